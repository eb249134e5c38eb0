from django.db import migrations

from clinic.db import REFUSE_TRUNCATE_FUNCTION, refuse_truncate_sql

# Every table an append-only trigger guards (clinic.db.append_only_sql); copied, because
# a migration must not change meaning when a module does.
HISTORY_TABLES = [
    "clinic_auditevent",
    "programs_stayextension",
    "programs_transition",
    "programs_discharge",
    "programs_reversal",
    "scheduling_attendancerecord",
    "patients_messagingconsentevent",
]


class Migration(migrations.Migration):
    """History refuses TRUNCATE too: row triggers do not fire on it."""

    dependencies = [
        ("clinic", "0003_audit_append_only_and_roles"),
        ("programs", "0002_database_rules"),
        ("scheduling", "0002_database_rules"),
        ("patients", "0003_consent_history_append_only"),
    ]

    operations = [
        migrations.RunSQL(REFUSE_TRUNCATE_FUNCTION, "DROP FUNCTION IF EXISTS clinic_refuse_truncate();"),
        *[migrations.RunSQL(*refuse_truncate_sql(table)) for table in HISTORY_TABLES],
    ]
