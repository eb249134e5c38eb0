"""The database's two roles: the owner runs migrations, the application runs everything else.

The owner (``DATABASE_OWNER_URL``) owns every table, sequence and function. The
application (``DATABASE_URL``) owns nothing: it holds SELECT, INSERT, UPDATE and DELETE on
the tables and USAGE, SELECT on the sequences, and nothing else. So it cannot TRUNCATE
(no privilege), ALTER or DROP a table, or disable or drop a trigger (all need ownership),
cannot set ``session_replication_role`` (superuser only) and cannot create objects in the
schema (PostgreSQL 15 grants PUBLIC no CREATE on ``public``). Of the history tables it can
only INSERT into; the append-only triggers refuse the rest.

Without ``DATABASE_OWNER_URL`` the application connects as the owner: a developer's single
superuser, and the test suite (which must flush between transactional tests). ``make run``,
CI and the compose file set both.

Statements here run on a psycopg connection of their own, never Django's cursor: a
password must not reach Django's query log.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from psycopg import sql

TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"
# Never the application's: emptying a table, triggers of its own, foreign keys to pin rows.
DENIED_TABLE_PRIVILEGES = "TRUNCATE, TRIGGER, REFERENCES"


class DatabaseRoleError(Exception):
    """The application's role cannot be made safe (it is the owner, a superuser, or owns objects)."""


def owner_settings(alias: str = DEFAULT_DB_ALIAS) -> dict[str, Any]:
    """The connection settings of ``alias`` with the owner's credentials (itself without an owner URL)."""
    current = dict(connections[alias].settings_dict)
    owner = getattr(settings, "DATABASE_OWNER", None)
    if owner and alias == DEFAULT_DB_ALIAS:
        current.update({key: owner.get(key) for key in ("USER", "PASSWORD", "HOST", "PORT")})
    return current


def app_role(alias: str = DEFAULT_DB_ALIAS) -> str | None:
    """The application's role for ``alias``, or None when the application connects as the owner."""
    app_user = connections[alias].settings_dict.get("USER") or None
    owner_user = owner_settings(alias).get("USER") or None
    return None if app_user == owner_user else app_user


def connect(settings_dict: dict[str, Any], *, dbname: str | None = None) -> psycopg.Connection:
    """A psycopg connection (autocommit) with ``settings_dict``'s credentials."""
    return psycopg.connect(
        dbname=dbname or settings_dict["NAME"],
        host=settings_dict.get("HOST") or None,
        port=settings_dict.get("PORT") or None,
        user=settings_dict.get("USER") or None,
        password=settings_dict.get("PASSWORD") or None,
        autocommit=True,
    )


def ensure_app_role(conn: psycopg.Connection, *, role: str, password: str | None) -> bool:
    """Create ``role`` (LOGIN, no special powers) if it is missing; True if created.

    A given password is set every time, so rotating it in the environment and running
    ``migrate`` is enough; without one (trust authentication) the role has none.
    """
    ident = sql.Identifier(role)
    created = False
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone() is None:
        try:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS").format(
                    ident
                )
            )
            created = True
        except psycopg.errors.DuplicateObject:
            pass  # another process created it in between; the checks below still hold
        except psycopg.errors.InsufficientPrivilege as error:
            raise DatabaseRoleError(
                f"The owner role may not create the application's role {role}: give the owner CREATEROLE, "
                "or create the role yourself (LOGIN, no other attributes)."
            ) from error
    powers = conn.execute(
        "SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls"
        " FROM pg_roles WHERE rolname = %s",
        [role],
    ).fetchone()[0]
    if powers:
        raise DatabaseRoleError(
            f"The application's role {role} has special powers (superuser, CREATEROLE, CREATEDB, "
            "REPLICATION or BYPASSRLS); it must be an ordinary role."
        )
    if password:
        # Utility statements take no bind parameters; Literal quotes the value client-side.
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(ident, sql.Literal(password)))
    return created


def grant_app_privileges(conn: psycopg.Connection, *, role: str) -> None:
    """Give ``role`` row access to every table and sequence of the public schema, and nothing more.

    Run as the owner after every migrate; the default privileges cover tables a later
    migration creates before the re-grant.
    """
    owned = conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relowner = to_regrole(%s) AND n.nspname = 'public'",
        [role],
    ).fetchone()[0]
    owns_database = conn.execute(
        "SELECT datdba = to_regrole(%s) FROM pg_database WHERE datname = current_database()", [role]
    ).fetchone()[0]
    if owned or owns_database:
        raise DatabaseRoleError(
            f"The application's role {role} owns the database or {owned} of its tables; the owner role must "
            "own them (ALTER ... OWNER TO, or REASSIGN OWNED) before the application can run safely."
        )
    is_member = conn.execute("SELECT pg_has_role(to_regrole(%s), current_user, 'MEMBER')", [role]).fetchone()[0]
    if is_member:
        raise DatabaseRoleError(f"The application's role {role} is a member of the owner role; revoke that.")

    ident = sql.Identifier(role)
    tables = sql.SQL(TABLE_PRIVILEGES)
    denied = sql.SQL(DENIED_TABLE_PRIVILEGES)
    sequences = sql.SQL(SEQUENCE_PRIVILEGES)
    for statement in [
        sql.SQL("GRANT USAGE ON SCHEMA public TO {r}"),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM {r}"),
        sql.SQL("GRANT {t} ON ALL TABLES IN SCHEMA public TO {r}"),
        sql.SQL("REVOKE {d} ON ALL TABLES IN SCHEMA public FROM {r}"),
        sql.SQL("GRANT {s} ON ALL SEQUENCES IN SCHEMA public TO {r}"),
        # Tables and sequences the owner creates later (the next migrate) come with the same grants.
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {t} ON TABLES TO {r}"),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE {d} ON TABLES FROM {r}"),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT {s} ON SEQUENCES TO {r}"),
    ]:
        conn.execute(statement.format(r=ident, t=tables, d=denied, s=sequences))


def prepare_app_role(alias: str = DEFAULT_DB_ALIAS) -> str | None:
    """As the owner: create the application's role if missing and grant it its privileges.

    Returns the role's name, or None when the application connects as the owner.
    """
    role = app_role(alias)
    if role is None:
        return None
    with connect(owner_settings(alias)) as conn:
        ensure_app_role(conn, role=role, password=connections[alias].settings_dict.get("PASSWORD") or None)
        grant_app_privileges(conn, role=role)
    return role


@contextmanager
def as_owner(alias: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Connect ``alias`` with the owner's credentials for the duration (migrate runs in it).

    Only the credentials change, never the database name, so the test runner's
    ``test_<name>`` database stays the one migrated.
    """
    connection = connections[alias]
    owner = owner_settings(alias)
    keys = ("USER", "PASSWORD", "HOST", "PORT")
    saved = {key: connection.settings_dict.get(key) for key in keys}
    if all(saved[key] == owner.get(key) for key in keys):
        yield
        return
    connection.close()
    connection.settings_dict.update({key: owner.get(key) for key in keys})
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


def check_app_role(app_configs=None, **kwargs) -> list:
    """A deploy check (``check --deploy``): the application must not connect as the schema's owner."""
    from django.core import checks

    if app_role() is not None:
        return []
    return [
        checks.Warning(
            "The application connects to PostgreSQL as the role that owns the schema, which could empty "
            "the audit trail or disable its triggers.",
            hint="Set DATABASE_OWNER_URL to the owner and DATABASE_URL to a role that owns nothing "
            "(README: Database roles); manage.py migrate creates it.",
            id="clinic.W101",
        )
    ]
