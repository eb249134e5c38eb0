"""Database helpers shared by the apps."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from django.contrib.postgres.fields import DateRangeField
from django.db import IntegrityError, models

from clinic.errors import DomainError


class DateRange(models.Func):
    """``daterange(lower, upper, '[)')``: half-open, a NULL upper bound is open-ended."""

    function = "daterange"
    output_field = DateRangeField()

    def __init__(self, lower, upper, **extra):
        super().__init__(lower, upper, models.Value("[)"), **extra)


def constraint_name(error: IntegrityError) -> str | None:
    """The name of the constraint (or trigger-raised constraint) behind an IntegrityError."""
    cause = error.__cause__
    diag = getattr(cause, "diag", None)
    return getattr(diag, "constraint_name", None)


@contextmanager
def translate_integrity_errors(
    mapping: Mapping[str, DomainError | Callable[[], DomainError]],
) -> Iterator[None]:
    """Turn a violation of a named constraint into the domain error for it.

    Services check first and raise a clear error themselves; this catches the
    race the check cannot see (another transaction committed in between), so the
    database stays the last word and the caller still gets a clear message.
    """
    try:
        yield
    except IntegrityError as error:
        name = constraint_name(error)
        if name in mapping:
            replacement = mapping[name]
            raise (replacement() if callable(replacement) else replacement) from error
        raise


def append_only_sql(table: str) -> tuple[str, str]:
    """SQL (forward, reverse) that makes ``table`` refuse UPDATE and DELETE.

    History rows (transitions, discharges, extensions, reversals) are written once;
    a mistake is corrected by a new row, never by editing the old one. A new
    append-only table also needs ``refuse_truncate_sql``.
    """
    forward = f"""
        CREATE TRIGGER {table}_append_only
        BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION clinic_refuse_change();
    """
    reverse = f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"
    return forward, reverse


REFUSE_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION clinic_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are history and cannot be changed or deleted', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation',
              CONSTRAINT = TG_TABLE_NAME || '_append_only';
END;
$$;
"""


def refuse_truncate_sql(table: str) -> tuple[str, str]:
    """SQL (forward, reverse) that makes ``table`` refuse TRUNCATE as well (see REFUSE_TRUNCATE_FUNCTION).

    Row triggers do not fire on TRUNCATE, so an append-only table needs this beside
    ``append_only_sql``.
    """
    forward = f"""
        CREATE TRIGGER {table}_refuse_truncate
        BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION clinic_refuse_truncate();
    """
    reverse = f"DROP TRIGGER IF EXISTS {table}_refuse_truncate ON {table};"
    return forward, reverse


# The only TRUNCATE of history this allows is one the table's owner asks for in its own
# session (SET [LOCAL] clinic.allow_truncate = 'on'): the test suite's flush between
# transactional tests (clinic/management/commands/flush.py, test settings only) and the
# benchmark's wipe of its own database. Any role may set a custom variable, so the owner
# check is what keeps the allowance from the application's role, which in any case owns
# nothing and holds no TRUNCATE privilege (clinic.dbroles). The owner could drop the
# trigger; that is why the application never connects as the owner.
REFUSE_TRUNCATE_FUNCTION = """
CREATE OR REPLACE FUNCTION clinic_refuse_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('clinic.allow_truncate', true) = 'on'
       AND (SELECT relowner FROM pg_class WHERE oid = TG_RELID) = to_regrole(current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% rows are history and cannot be truncated', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation',
              CONSTRAINT = TG_TABLE_NAME || '_append_only';
END;
$$;
"""
