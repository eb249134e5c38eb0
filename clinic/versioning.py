"""Optimistic concurrency for records two people may edit at once.

The version is the row's ``updated_at``, which every service write bumps. A caller
that read version V may change the row only while it is still V; services compare
under the row lock, so a concurrent edit is refused instead of silently overwritten.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext as _

from clinic.errors import VersionMismatch


def etag_for(obj: models.Model) -> str:
    return f'"{obj.updated_at.isoformat()}"'


def check_version(obj: models.Model, expected: str | None) -> None:
    if expected is not None and expected != etag_for(obj):
        raise VersionMismatch(_("This record was changed by someone else since you loaded it; reload and try again."))
