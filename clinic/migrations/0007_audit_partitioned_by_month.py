"""The audit trail partitioned by month, with five indexes instead of eight (issue 17).

The existing table is renamed, a partitioned ``clinic_auditevent`` takes its name, monthly
partitions are created from its oldest row's month through three months ahead (by
PostgreSQL's clock: this runs once, before any beat task exists), its rows are copied over
in one statement keeping their ids, and the old table is dropped. On a large trail this
migration takes as long as copying the trail; run it in a maintenance window.

Dropped indexes: ``at`` alone (``(at, id)`` serves the same queries and the admin list's
tie-break), ``user_id`` and ``patient_id`` alone (the ``(user, at)`` and ``(patient, at)``
indexes lead with them) and ``request_id``'s ``varchar_pattern_ops`` copy (no LIKE search).

What holds on every partition, present and future:

- UPDATE and DELETE are refused by the row trigger on the parent, which PostgreSQL clones
  onto every partition (including ones created later).
- TRUNCATE is refused by a statement trigger, which PostgreSQL does not clone: the
  parent, the default partition and each partition ``clinic_audit_create_partitions`` makes
  get their own.
- A row whose month has no partition goes to ``clinic_auditevent_default``: a request never
  loses its audit row. Creating that month's partition afterwards is refused with a clear
  error until someone moves those rows (see the README), never silently.

The application's role owns nothing, so partitions are created and retired through two
SECURITY DEFINER functions owned by the owner role. The retiring one refuses anything newer
than six years by PostgreSQL's own clock, whatever the caller says, and drops a partition
only when the caller's count of exported rows matches what it holds.
"""

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

# Copied, not imported: a migration must not change meaning when a module does.
CREATE_PARTITIONS_FUNCTION = r"""
CREATE OR REPLACE FUNCTION clinic_audit_create_partitions(from_at timestamptz, through_at timestamptz)
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    month timestamp := date_trunc('month', from_at AT TIME ZONE 'UTC');
    last_month timestamp := date_trunc('month', through_at AT TIME ZONE 'UTC');
    lower_at timestamptz;
    upper_at timestamptz;
    name text;
BEGIN
    IF last_month > month + interval '24 months' THEN
        RAISE EXCEPTION 'Audit partitions are created at most 24 months at a time (asked % to %)', from_at, through_at;
    END IF;
    WHILE month <= last_month LOOP
        name := 'clinic_auditevent_y' || to_char(month, 'YYYY') || 'm' || to_char(month, 'MM');
        lower_at := month AT TIME ZONE 'UTC';
        upper_at := (month + interval '1 month') AT TIME ZONE 'UTC';
        IF to_regclass(name) IS NULL THEN
            IF EXISTS (SELECT 1 FROM clinic_auditevent_default WHERE at >= lower_at AND at < upper_at) THEN
                RAISE EXCEPTION 'The audit trail''s default partition holds rows of %: move them into a new '
                    'partition % before it can be created (README, "Audit trail partitions")',
                    to_char(month, 'YYYY-MM'), name
                    USING ERRCODE = 'object_not_in_prerequisite_state';
            END IF;
            EXECUTE format('CREATE TABLE %I PARTITION OF clinic_auditevent FOR VALUES FROM (%L) TO (%L)',
                           name, lower_at, upper_at);
            -- Statement triggers are not cloned onto partitions: TRUNCATE of this one is refused here.
            EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %I '
                           'FOR EACH STATEMENT EXECUTE FUNCTION clinic_refuse_truncate()',
                           name || '_refuse_truncate', name);
            RETURN NEXT name;
        END IF;
        month := month + interval '1 month';
    END LOOP;
END;
$$;
"""

DROP_PARTITION_FUNCTION = r"""
CREATE OR REPLACE FUNCTION clinic_audit_drop_partition(partition_name text, exported_rows bigint, cutoff timestamptz)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    part regclass := to_regclass(partition_name);
    upper_at timestamptz;
    held bigint;
BEGIN
    IF part IS NULL OR NOT EXISTS (
        SELECT 1 FROM pg_inherits WHERE inhrelid = part AND inhparent = 'clinic_auditevent'::regclass
    ) THEN
        RAISE EXCEPTION '% is not a partition of the audit trail', partition_name;
    END IF;
    SELECT (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
      INTO upper_at FROM pg_class c WHERE c.oid = part;
    -- statement_timestamp(), PostgreSQL's own clock, on purpose: this is the database's last guard,
    -- whatever clock or retention setting the caller has. Six years: HIPAA's documentation period.
    IF upper_at IS NULL OR upper_at > cutoff OR upper_at > statement_timestamp() - interval '6 years' THEN
        RAISE EXCEPTION 'Audit partition % is not past its retention (ends %, cutoff %)', partition_name, upper_at, cutoff
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'clinic_auditevent_retention';
    END IF;
    EXECUTE format('ALTER TABLE clinic_auditevent DETACH PARTITION %s', part);
    EXECUTE format('SELECT count(*) FROM %s', part) INTO held;
    IF held <> exported_rows THEN
        RAISE EXCEPTION 'Audit partition % holds % rows but % were exported; nothing dropped', partition_name, held,
            exported_rows
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'clinic_auditevent_export_count';
    END IF;
    EXECUTE format('DROP TABLE %s', part);
    RETURN held;
END;
$$;
"""

COLUMNS = (
    "id, at, user_id, username, role, ip_address, user_agent, action, category, patient_id, object_type, object_id, "
    "path, request_id, detail"
)

FORWARD = f"""
ALTER TABLE clinic_auditevent RENAME TO clinic_auditevent_unpartitioned;
ALTER TABLE clinic_auditevent_unpartitioned RENAME CONSTRAINT clinic_auditevent_pkey
    TO clinic_auditevent_unpartitioned_pkey;
DO $$
DECLARE index_name text;
BEGIN
    FOR index_name IN
        SELECT indexrelid::regclass::text FROM pg_index
        WHERE indrelid = 'clinic_auditevent_unpartitioned'::regclass AND NOT indisprimary
    LOOP
        EXECUTE format('DROP INDEX %s', index_name);
    END LOOP;
END $$;

CREATE SEQUENCE clinic_auditevent_partitioned_id_seq;
CREATE TABLE clinic_auditevent (
    id bigint NOT NULL DEFAULT nextval('clinic_auditevent_partitioned_id_seq'),
    at timestamp with time zone NOT NULL,
    user_id bigint NULL,
    username varchar(150) NOT NULL,
    role varchar(20) NOT NULL,
    ip_address inet NULL,
    user_agent varchar(300) NOT NULL,
    action varchar(16) NOT NULL,
    category varchar(16) NOT NULL,
    patient_id bigint NULL,
    object_type varchar(100) NOT NULL,
    object_id varchar(64) NOT NULL,
    path varchar(300) NOT NULL,
    request_id varchar(64) NOT NULL,
    detail varchar(300) NOT NULL,
    CONSTRAINT clinic_auditevent_pkey PRIMARY KEY (id, at)
) PARTITION BY RANGE (at);
ALTER SEQUENCE clinic_auditevent_partitioned_id_seq OWNED BY clinic_auditevent.id;
CREATE INDEX auditevent_at_id ON clinic_auditevent (at DESC, id DESC);
CREATE INDEX auditevent_patient_at ON clinic_auditevent (patient_id, at DESC);
CREATE INDEX auditevent_user_at ON clinic_auditevent (user_id, at DESC);
CREATE INDEX auditevent_request_id ON clinic_auditevent (request_id);

CREATE TRIGGER clinic_auditevent_append_only
    BEFORE UPDATE OR DELETE ON clinic_auditevent
    FOR EACH ROW EXECUTE FUNCTION clinic_refuse_change();
CREATE TRIGGER clinic_auditevent_refuse_truncate
    BEFORE TRUNCATE ON clinic_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION clinic_refuse_truncate();

CREATE TABLE clinic_auditevent_default PARTITION OF clinic_auditevent DEFAULT;
CREATE TRIGGER clinic_auditevent_default_refuse_truncate
    BEFORE TRUNCATE ON clinic_auditevent_default
    FOR EACH STATEMENT EXECUTE FUNCTION clinic_refuse_truncate();

{CREATE_PARTITIONS_FUNCTION}
{DROP_PARTITION_FUNCTION}

-- now(): PostgreSQL's clock, once, at migration time; the beat task keeps months ahead afterwards.
-- From the oldest row's month, 24 months per call (the function's limit).
DO $$
DECLARE start_at timestamptz := LEAST(now(), (SELECT min(at) FROM clinic_auditevent_unpartitioned));
BEGIN
    WHILE start_at <= now() + interval '3 months' LOOP
        PERFORM clinic_audit_create_partitions(start_at, LEAST(start_at + interval '23 months',
                                                               now() + interval '3 months'));
        start_at := start_at + interval '24 months';
    END LOOP;
END $$;
INSERT INTO clinic_auditevent ({COLUMNS}) SELECT {COLUMNS} FROM clinic_auditevent_unpartitioned;
SELECT setval('clinic_auditevent_partitioned_id_seq',
              GREATEST((SELECT max(id) FROM clinic_auditevent_unpartitioned), 1),
              (SELECT max(id) FROM clinic_auditevent_unpartitioned) IS NOT NULL);
DROP TABLE clinic_auditevent_unpartitioned;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0006_ur_coordinator_and_payer_audit"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunSQL(FORWARD)],
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="at",
                    field=models.DateTimeField(default=django.utils.timezone.now),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="request_id",
                    field=models.CharField(blank=True, max_length=64),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="user",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="patient",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(fields=["-at", "-id"], name="auditevent_at_id"),
                ),
                migrations.AddIndex(
                    model_name="auditevent",
                    index=models.Index(fields=["request_id"], name="auditevent_request_id"),
                ),
            ],
        )
    ]
