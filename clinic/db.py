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
    a mistake is corrected by a new row, never by editing the old one.
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
