"""The bed rule over stays and reservations, and the rules a plain constraint cannot express.

``admissions_bedhold`` holds one row per residential stay that is not cancelled and one per
held reservation with a bed; triggers keep it equal to those rows, so its exclusion
constraint ``bed_one_hold_per_day`` is the one rule for both. A stay holds its bed over
``[start_on, ended_on)`` once ended and ``[start_on, planned_end_on)`` while open: a bed can be
reserved from the planned discharge on, and extending a stay into a reservation is refused
until the reservation moves. (programs' own ``placement_one_patient_per_bed_per_day`` still
treats an open stay as open-ended for other stays.)
"""

from django.db import migrations

from clinic.db import append_only_sql

HOLDS = """
CREATE OR REPLACE FUNCTION admissions_hold_for_placement() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM admissions_bedhold WHERE placement_id = OLD.id;
        RETURN OLD;
    END IF;
    IF NEW.bed_id IS NULL OR NEW.cancelled_at IS NOT NULL THEN
        DELETE FROM admissions_bedhold WHERE placement_id = NEW.id;
    ELSE
        INSERT INTO admissions_bedhold (bed_id, days, placement_id)
        VALUES (NEW.bed_id, daterange(NEW.start_on, COALESCE(NEW.ended_on, NEW.planned_end_on), '[)'), NEW.id)
        ON CONFLICT (placement_id) DO UPDATE SET bed_id = EXCLUDED.bed_id, days = EXCLUDED.days
        WHERE admissions_bedhold.bed_id IS DISTINCT FROM EXCLUDED.bed_id
           OR admissions_bedhold.days IS DISTINCT FROM EXCLUDED.days;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER placement_bed_hold
AFTER INSERT OR DELETE OR UPDATE OF bed_id, start_on, ended_on, planned_end_on, cancelled_at ON programs_placement
FOR EACH ROW EXECUTE FUNCTION admissions_hold_for_placement();

CREATE OR REPLACE FUNCTION admissions_hold_for_reservation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        DELETE FROM admissions_bedhold WHERE reservation_id = OLD.id;
        RETURN OLD;
    END IF;
    IF NEW.bed_id IS NULL OR NEW.status <> 'held' THEN
        DELETE FROM admissions_bedhold WHERE reservation_id = NEW.id;
    ELSE
        INSERT INTO admissions_bedhold (bed_id, days, reservation_id)
        VALUES (NEW.bed_id, daterange(NEW.start_on, NEW.planned_end_on, '[)'), NEW.id)
        ON CONFLICT (reservation_id) DO UPDATE SET bed_id = EXCLUDED.bed_id, days = EXCLUDED.days
        WHERE admissions_bedhold.bed_id IS DISTINCT FROM EXCLUDED.bed_id
           OR admissions_bedhold.days IS DISTINCT FROM EXCLUDED.days;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER reservation_bed_hold
AFTER INSERT OR DELETE OR UPDATE OF bed_id, start_on, planned_end_on, status ON admissions_reservation
FOR EACH ROW EXECUTE FUNCTION admissions_hold_for_reservation();

-- The stays that exist already take their holds.
INSERT INTO admissions_bedhold (bed_id, days, placement_id)
SELECT bed_id, daterange(start_on, COALESCE(ended_on, planned_end_on), '[)'), id
  FROM programs_placement WHERE bed_id IS NOT NULL AND cancelled_at IS NULL;
"""
DROP_HOLDS = """
DROP TRIGGER IF EXISTS placement_bed_hold ON programs_placement;
DROP FUNCTION IF EXISTS admissions_hold_for_placement();
DROP TRIGGER IF EXISTS reservation_bed_hold ON admissions_reservation;
DROP FUNCTION IF EXISTS admissions_hold_for_reservation();
DELETE FROM admissions_bedhold;
"""

# An admitted reservation names its stay. Checked at commit: admitting releases the reservation's
# hold (status first) before the stay that takes the bed exists.
ADMITTED_HAS_PLACEMENT = """
CREATE OR REPLACE FUNCTION admissions_check_admitted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM admissions_reservation
                WHERE id = NEW.id AND status = 'admitted' AND placement_id IS NULL) THEN
        RAISE EXCEPTION 'an admitted reservation must name its stay'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'reservation_admitted_has_placement';
    END IF;
    RETURN NULL;
END;
$$;
CREATE CONSTRAINT TRIGGER reservation_admitted_has_placement
AFTER INSERT OR UPDATE ON admissions_reservation
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION admissions_check_admitted();

ALTER TABLE admissions_reservation
    ADD CONSTRAINT reservation_bed_in_program_fk
    FOREIGN KEY (bed_id, program_id) REFERENCES programs_bed (id, program_id);
ALTER TABLE admissions_reservation
    ADD CONSTRAINT reservation_patient_of_referral_fk
    FOREIGN KEY (referral_id, patient_id) REFERENCES admissions_referral (id, patient_id);
ALTER TABLE admissions_reservation
    ADD CONSTRAINT reservation_program_of_referral_fk
    FOREIGN KEY (referral_id, program_id) REFERENCES admissions_referral (id, program_id);
"""
DROP_ADMITTED_HAS_PLACEMENT = """
DROP TRIGGER IF EXISTS reservation_admitted_has_placement ON admissions_reservation;
DROP FUNCTION IF EXISTS admissions_check_admitted();
ALTER TABLE admissions_reservation DROP CONSTRAINT reservation_bed_in_program_fk;
ALTER TABLE admissions_reservation DROP CONSTRAINT reservation_patient_of_referral_fk;
ALTER TABLE admissions_reservation DROP CONSTRAINT reservation_program_of_referral_fk;
"""

EVENTS_FORWARD, EVENTS_REVERSE = append_only_sql("admissions_referralevent")


class Migration(migrations.Migration):
    dependencies = [("admissions", "0001_initial"), ("programs", "0002_database_rules")]

    operations = [
        migrations.RunSQL(HOLDS, DROP_HOLDS),
        migrations.RunSQL(ADMITTED_HAS_PLACEMENT, DROP_ADMITTED_HAS_PLACEMENT),
        migrations.RunSQL(EVENTS_FORWARD, EVENTS_REVERSE),
    ]
