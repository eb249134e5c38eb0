"""``flush`` that may empty the history tables when the settings say so (the test suite only).

History refuses TRUNCATE unless the table's owner sets ``clinic.allow_truncate`` in its
session (clinic.db.REFUSE_TRUNCATE_FUNCTION). pytest-django empties the database with
this command after every transactional test (transactional_db, live_server, the
reliability and reminder-pipeline tests), connected as the owner; the test settings turn
``CLINIC_FLUSH_EMPTIES_HISTORY`` on. Anywhere else ``flush`` is refused by the history
tables, as it should be: a production audit trail is never emptied by a command.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.commands import flush
from django.db import connections


class Command(flush.Command):
    def handle(self, **options) -> None:
        if not getattr(settings, "CLINIC_FLUSH_EMPTIES_HISTORY", False):
            return super().handle(**options)
        connection = connections[options["database"]]
        with connection.cursor() as cursor:
            cursor.execute("SET clinic.allow_truncate = 'on'")
        try:
            return super().handle(**options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("RESET clinic.allow_truncate")
