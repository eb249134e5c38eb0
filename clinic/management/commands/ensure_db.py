"""Create the configured PostgreSQL database if it does not exist yet, and the application's role (``make run``)."""

from __future__ import annotations

import psycopg
from django.core.management.base import BaseCommand, CommandError
from psycopg import sql

from clinic import dbroles


class Command(BaseCommand):
    help = (
        "Create the database named in DATABASE_URL if it is missing (as DATABASE_OWNER_URL's role when set), "
        "and the application's role with its row privileges."
    )

    def handle(self, *args, **options) -> None:
        owner = dbroles.owner_settings()
        name = owner["NAME"]
        try:
            # CREATE DATABASE cannot run inside a transaction (connect() is autocommit).
            # The owner creates it, so the owner owns it and the schema within.
            with dbroles.connect(owner, dbname="postgres") as conn:
                exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
                if exists:
                    self.stdout.write(f"Database {name} exists.")
                else:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                    self.stdout.write(self.style.SUCCESS(f"Created database {name}."))
            role = dbroles.prepare_app_role()
        except psycopg.OperationalError as error:
            raise CommandError(f"Cannot reach PostgreSQL to create {name}: {error}") from error
        except dbroles.DatabaseRoleError as error:
            raise CommandError(str(error)) from error
        if role:
            self.stdout.write(f"The application connects as {role}, which owns nothing.")
        else:
            self.stdout.write(
                self.style.WARNING(
                    "The application connects as the database owner; set DATABASE_OWNER_URL and give "
                    "DATABASE_URL another role to keep history safe from it."
                )
            )
