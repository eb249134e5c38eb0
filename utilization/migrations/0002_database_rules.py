"""The rules PostgreSQL keeps for utilization review (the exclusion constraints are in 0001).

- Composite foreign keys keep an authorization's patient equal to its episode's and its coverage's.
- The units the payer approved fit the dates it approved (a day is one unit; an IOP day at most
  ``MAX_SESSIONS_PER_DAY`` sessions).
- What the payer said is never edited: once decided, an authorization's terms are fixed; the review
  totals only grow; status moves only from requested, or from approved to expired. Nothing is deleted.
- Concurrent reviews are append-only.
"""

from django.db import migrations

from clinic.db import append_only_sql

FORWARD = """
ALTER TABLE utilization_authorization
    ADD CONSTRAINT authorization_episode_patient_fk
    FOREIGN KEY (episode_id, patient_id) REFERENCES programs_treatmentepisode (id, patient_id),
    ADD CONSTRAINT authorization_coverage_patient_fk
    FOREIGN KEY (coverage_id, patient_id) REFERENCES utilization_coverage (id, patient_id),
    ADD CONSTRAINT authorization_units_fit_dates CHECK (
        approved_units IS NULL OR start_on IS NULL OR
        approved_units + units_added <= (COALESCE(extended_to, end_on) - start_on + 1)
            * CASE WHEN unit_kind = 'sessions' THEN 3 ELSE 1 END
    ),
    ADD CONSTRAINT authorization_requested_units_fit_dates CHECK (
        requested_units <= (requested_end_on - requested_start_on + 1)
            * CASE WHEN unit_kind = 'sessions' THEN 3 ELSE 1 END
    );

CREATE OR REPLACE FUNCTION utilization_keep_payer_terms() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'authorizations are the record of what a payer said and cannot be deleted'
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'utilization_authorization_payer_terms';
    END IF;
    IF OLD.status <> 'requested' AND (
        NEW.number IS DISTINCT FROM OLD.number
        OR NEW.asam_level IS DISTINCT FROM OLD.asam_level
        OR NEW.unit_kind IS DISTINCT FROM OLD.unit_kind
        OR NEW.approved_units IS DISTINCT FROM OLD.approved_units
        OR NEW.start_on IS DISTINCT FROM OLD.start_on
        OR NEW.end_on IS DISTINCT FROM OLD.end_on
        OR NEW.decided_on IS DISTINCT FROM OLD.decided_on
        OR NEW.decided_by_id IS DISTINCT FROM OLD.decided_by_id
        OR NEW.coverage_id IS DISTINCT FROM OLD.coverage_id
        OR NEW.episode_id IS DISTINCT FROM OLD.episode_id
        OR NEW.patient_id IS DISTINCT FROM OLD.patient_id
        OR NEW.requested_units IS DISTINCT FROM OLD.requested_units
        OR NEW.requested_on IS DISTINCT FROM OLD.requested_on
        OR NOT (NEW.status = OLD.status OR (OLD.status IN ('approved', 'partial') AND NEW.status = 'expired'))
    ) THEN
        RAISE EXCEPTION 'the terms of a decided authorization are what the payer said and cannot be changed'
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'utilization_authorization_payer_terms';
    END IF;
    IF NEW.units_added < OLD.units_added
       OR (OLD.extended_to IS NOT NULL AND (NEW.extended_to IS NULL OR NEW.extended_to < OLD.extended_to)) THEN
        RAISE EXCEPTION 'units approved at reviews only grow'
            USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'utilization_authorization_payer_terms';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER utilization_authorization_payer_terms
BEFORE UPDATE OR DELETE ON utilization_authorization
FOR EACH ROW EXECUTE FUNCTION utilization_keep_payer_terms();
"""

REVERSE = """
DROP TRIGGER IF EXISTS utilization_authorization_payer_terms ON utilization_authorization;
DROP FUNCTION IF EXISTS utilization_keep_payer_terms();
ALTER TABLE utilization_authorization
    DROP CONSTRAINT IF EXISTS authorization_episode_patient_fk,
    DROP CONSTRAINT IF EXISTS authorization_coverage_patient_fk,
    DROP CONSTRAINT IF EXISTS authorization_units_fit_dates,
    DROP CONSTRAINT IF EXISTS authorization_requested_units_fit_dates;
"""


class Migration(migrations.Migration):
    dependencies = [("utilization", "0001_initial"), ("programs", "0002_database_rules")]

    operations = [
        migrations.RunSQL(FORWARD, REVERSE),
        migrations.RunSQL(*append_only_sql("utilization_concurrentreview")),
    ]
