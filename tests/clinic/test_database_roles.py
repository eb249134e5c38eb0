"""History cannot be emptied: the application's database role reads and writes rows and nothing more (issue 11).

The suite connects as the owner. These tests open a second connection to the test
database as the application's role, prepared the way ``migrate`` prepares it
(clinic.dbroles). The tests that need it to see rows commit them (transactional tests,
flushed after, which also shows the suite's flush still empties history).
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import IntegrityError, connection, transaction
from psycopg import errors

from clinic import dbroles
from clinic.db import constraint_name
from programs import services

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
sees_committed_rows = pytest.mark.django_db(transaction=True)

# A role of the suite's own, so a developer's clinic_app (and its password) is left alone.
APP_ROLE = "clinic_app_test"
APP_PASSWORD = "clinic-app-test-only"

# Every append-only table (the triggers in clinic/programs/scheduling/patients migrations).
HISTORY_TABLES = [
    "clinic_auditevent",
    "programs_stayextension",
    "programs_transition",
    "programs_discharge",
    "programs_reversal",
    "scheduling_attendancerecord",
    "patients_messagingconsentevent",
]

INSERT_AUDIT = """
    INSERT INTO clinic_auditevent (at, username, role, user_agent, action, category, object_type, object_id,
                                   path, request_id, detail)
    VALUES (now(), 'app', '', '', 'view', '', '', '', '', '', '') RETURNING id
"""


@pytest.fixture
def app_db():
    """A connection to the test database as the application's role (autocommit)."""
    with dbroles.connect(dbroles.owner_settings()) as owner:
        dbroles.ensure_app_role(owner, role=APP_ROLE, password=APP_PASSWORD)
        dbroles.grant_app_privileges(owner, role=APP_ROLE)
    app_settings = {**connection.settings_dict, "USER": APP_ROLE, "PASSWORD": APP_PASSWORD}
    with dbroles.connect(app_settings) as conn:
        yield conn


@pytest.fixture
def history(patient, bed, iop, clinician, today):
    """Committed rows in the programs' history tables (extension, transition, reversal)."""
    stay = services.admit_to_residential(
        patient=patient, bed=bed, admitted_on=today - dt.timedelta(20), admitted_by=clinician
    )
    services.extend_stay(
        stay=stay, new_planned_discharge_on=today + dt.timedelta(30), reason="r", approved_by=clinician
    )
    transition = services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)
    services.reverse_transition(transition=transition, reason="oops", reversed_by=clinician)


def test_the_application_role_is_an_ordinary_role_that_owns_nothing(app_db):
    row = app_db.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row == (False, False, False, False)
    owned = app_db.execute(
        "SELECT count(*) FROM pg_class WHERE relowner = to_regrole(current_user)"
        " AND relnamespace = 'public'::regnamespace"
    ).fetchone()[0]
    assert owned == 0


@sees_committed_rows
def test_the_application_role_reads_and_writes_ordinary_rows(app_db, patient):
    assert app_db.execute("SELECT count(*) FROM patients_patient").fetchone()[0] == 1
    group_id = app_db.execute("INSERT INTO auth_group (name) VALUES ('Night staff') RETURNING id").fetchone()[0]
    app_db.execute("UPDATE auth_group SET name = 'Night shift' WHERE id = %s", [group_id])
    assert app_db.execute("SELECT name FROM auth_group WHERE id = %s", [group_id]).fetchone()[0] == "Night shift"
    app_db.execute("DELETE FROM auth_group WHERE id = %s", [group_id])
    # History takes new rows.
    assert app_db.execute(INSERT_AUDIT).fetchone()[0] > 0


@pytest.mark.parametrize("table", HISTORY_TABLES)
def test_the_application_role_cannot_truncate_history(app_db, table):
    with pytest.raises(errors.InsufficientPrivilege):
        app_db.execute(f"TRUNCATE {table}")
    # Asking for the owner's allowance does not help a role that is not the owner.
    with app_db.transaction(), pytest.raises(errors.InsufficientPrivilege):
        app_db.execute("SET LOCAL clinic.allow_truncate = 'on'")
        app_db.execute(f"TRUNCATE {table} CASCADE")


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE clinic_auditevent DISABLE TRIGGER clinic_auditevent_append_only",
        "ALTER TABLE clinic_auditevent DISABLE TRIGGER ALL",
        "ALTER TABLE clinic_auditevent ADD COLUMN note text",
        "DROP TRIGGER clinic_auditevent_append_only ON clinic_auditevent",
        "DROP TRIGGER clinic_auditevent_refuse_truncate ON clinic_auditevent",
        "DROP TABLE clinic_auditevent",
        "CREATE OR REPLACE FUNCTION clinic_refuse_change() RETURNS trigger LANGUAGE plpgsql"
        " AS $$ BEGIN RETURN NEW; END; $$",
        "SET session_replication_role = replica",  # would silence every trigger
        "CREATE TABLE scratch (id int)",
        "GRANT TRUNCATE ON clinic_auditevent TO PUBLIC",
    ],
)
def test_the_application_role_cannot_alter_drop_or_silence_history(app_db, statement):
    if statement.startswith("GRANT"):
        # Without the grant option PostgreSQL only warns; what matters is that nothing was granted.
        app_db.execute(statement)
        assert not app_db.execute("SELECT has_table_privilege('clinic_auditevent', 'TRUNCATE')").fetchone()[0]
        return
    with pytest.raises(errors.InsufficientPrivilege):
        app_db.execute(statement)


@sees_committed_rows
def test_the_application_role_cannot_update_or_delete_history_rows(app_db, history):
    audit_id = app_db.execute(INSERT_AUDIT).fetchone()[0]
    for statement, params in [
        ("UPDATE clinic_auditevent SET detail = 'edited' WHERE id = %s", [audit_id]),
        ("DELETE FROM clinic_auditevent WHERE id = %s", [audit_id]),
        ("UPDATE programs_transition SET reason = 'edited'", None),
        ("DELETE FROM programs_transition", None),
        ("UPDATE programs_stayextension SET reason = 'edited'", None),
        ("DELETE FROM programs_stayextension", None),
        ("DELETE FROM programs_reversal", None),
    ]:
        with pytest.raises(errors.IntegrityConstraintViolation) as refused:
            app_db.execute(statement, params)
        assert refused.value.diag.constraint_name.endswith("_append_only"), statement
    assert app_db.execute("SELECT detail FROM clinic_auditevent WHERE id = %s", [audit_id]).fetchone()[0] == ""
    assert app_db.execute("SELECT reason FROM programs_transition").fetchone()[0] == "Stable"


@pytest.mark.parametrize("table", HISTORY_TABLES)
def test_even_the_owner_cannot_truncate_history_without_asking(table):
    with pytest.raises(IntegrityError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert constraint_name(refused.value) == f"{table}_append_only"


@sees_committed_rows  # TRUNCATE refuses rows with deferred foreign-key checks still pending
def test_the_owner_may_truncate_history_when_it_asks_in_its_own_session(history):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL clinic.allow_truncate = 'on'")
        cursor.execute("TRUNCATE programs_transition CASCADE")
        cursor.execute("SELECT count(*) FROM programs_transition")
        assert cursor.fetchone()[0] == 0
        transaction.set_rollback(True)
    # The allowance was local to that transaction.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE programs_transition CASCADE")


def test_the_owner_is_refused_as_the_application_role():
    with dbroles.connect(dbroles.owner_settings()) as owner:
        me = owner.execute("SELECT current_user").fetchone()[0]
        with pytest.raises(dbroles.DatabaseRoleError):
            # The suite's owner owns the tables (and is a superuser here): never a valid application role.
            dbroles.grant_app_privileges(owner, role=me)


@sees_committed_rows
def test_migrate_runs_as_the_owner_and_grants_the_application_role_its_rows(app_db):
    """``manage.py migrate`` with both URLs, as ``make run`` and the compose file call it."""
    with dbroles.connect(dbroles.owner_settings()) as owner:
        owner.execute(f"REVOKE ALL ON clinic_auditevent FROM {APP_ROLE}")
    with pytest.raises(errors.InsufficientPrivilege):
        app_db.execute("SELECT count(*) FROM clinic_auditevent")

    db = connection.settings_dict
    where = f"{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))},
        "DJANGO_SETTINGS_MODULE": "clinic.settings_test",
        "DATABASE_URL": f"postgres://{APP_ROLE}:{APP_PASSWORD}@{where}",
        "DATABASE_OWNER_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{where}",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert f"The application's role {APP_ROLE} may read and write rows, and nothing more." in done.stdout

    assert app_db.execute("SELECT count(*) FROM clinic_auditevent").fetchone()[0] == 0
    assert not app_db.execute("SELECT has_table_privilege('clinic_auditevent', 'TRUNCATE')").fetchone()[0]
