"""The test database for `make mutation`'s pytest runs, taken as the runner left it.

pytest-django's --reuse-db still runs Django's `migrate` (nothing to apply, but the graph is
loaded and post_migrate fires): about two seconds, paid by every mutant. The runner migrates the
test database once (tests/mutation/run.py); each mutant's run then points at it as it stands.
Loaded by tests/conftest.py only when CLINIC_MUTATION_RUN is set.
"""

from __future__ import annotations

import pytest

_test_db_name: str | None = None


@pytest.fixture(scope="session")
def django_db_setup(django_db_blocker):
    from django.conf import settings
    from django.db import connections

    connection = connections["default"]
    # mutmut runs pytest more than once in one process: the name is already the test database's then.
    global _test_db_name
    if _test_db_name is None:
        _test_db_name = connection.creation._get_test_db_name()
    name = _test_db_name
    settings.DATABASES["default"]["NAME"] = name
    connection.settings_dict["NAME"] = name
    connection.close()
    yield
    # mutmut forks each mutant from the process that ran the tests: no connection may cross the fork.
    with django_db_blocker.unblock():
        connections.close_all()
