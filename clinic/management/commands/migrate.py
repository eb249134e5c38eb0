"""``migrate`` as the owner role, then the application's role gets its privileges (clinic.dbroles).

Django's own command does the migrating; this only changes who connects. The test
runner calls it too (creating the test database), where both roles are the same.
"""

from __future__ import annotations

from django.core.management.base import CommandError
from django.core.management.commands import migrate

from clinic import dbroles


class Command(migrate.Command):
    def handle(self, *args, **options) -> None:
        database = options["database"]
        with dbroles.as_owner(database):
            super().handle(*args, **options)
        # Outside as_owner: the application's role is DATABASE_URL's user, which as_owner swaps out.
        try:
            role = dbroles.prepare_app_role(database)
        except dbroles.DatabaseRoleError as error:
            raise CommandError(str(error)) from error
        if role and options["verbosity"] >= 1:
            self.stdout.write(f"The application's role {role} may read and write rows, and nothing more.")
