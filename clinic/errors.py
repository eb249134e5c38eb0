"""Domain errors: what a service raises when a request cannot be carried out.

Entry points (admin, API, commands, tasks) show ``message`` to the person and may
use ``code`` as a machine-readable reason. A domain error always means nothing
was written.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request is valid but collides with the current state (a bed taken, an overlap)."""

    code = "conflict"


class InvalidInput(DomainError):
    code = "invalid"


class VersionMismatch(DomainError):
    """The record changed since the caller read it (optimistic concurrency)."""

    code = "version_mismatch"
