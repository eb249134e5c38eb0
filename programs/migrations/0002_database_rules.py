"""Rules that a plain Django constraint cannot express, held by PostgreSQL itself."""

from django.db import migrations

from clinic.db import append_only_sql

COMPOSITE_KEYS = """
ALTER TABLE programs_placement
    ADD CONSTRAINT placement_episode_patient_fk
    FOREIGN KEY (episode_id, patient_id) REFERENCES programs_treatmentepisode (id, patient_id);
ALTER TABLE programs_placement
    ADD CONSTRAINT placement_bed_in_program_fk
    FOREIGN KEY (bed_id, program_id) REFERENCES programs_bed (id, program_id);
"""
DROP_COMPOSITE_KEYS = """
ALTER TABLE programs_placement DROP CONSTRAINT placement_episode_patient_fk;
ALTER TABLE programs_placement DROP CONSTRAINT placement_bed_in_program_fk;
"""

# A residential stay's planned length must fall within its program's range;
# beyond the maximum only when an approved extension covers the planned date.
# It reads other tables, so it is a trigger rather than a CHECK constraint.
STAY_LENGTH = """
CREATE OR REPLACE FUNCTION programs_check_stay_length() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    min_days integer;
    max_days integer;
    planned integer;
BEGIN
    IF NEW.kind <> 'residential' OR NEW.cancelled_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    SELECT residential_min_days, residential_max_days INTO min_days, max_days
      FROM programs_program WHERE id = NEW.program_id;
    planned := NEW.planned_end_on - NEW.start_on;
    IF planned < min_days THEN
        RAISE EXCEPTION 'planned stay of % days is shorter than the program minimum of % days', planned, min_days
            USING ERRCODE = 'check_violation', CONSTRAINT = 'placement_stay_length_within_program_range';
    END IF;
    IF planned > max_days AND NOT EXISTS (
        SELECT 1 FROM programs_stayextension e
         WHERE e.stay_id = NEW.id AND e.new_planned_end_on >= NEW.planned_end_on
    ) THEN
        RAISE EXCEPTION 'planned stay of % days is over the program maximum of % days and no extension covers it',
            planned, max_days
            USING ERRCODE = 'check_violation', CONSTRAINT = 'placement_stay_length_within_program_range';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER placement_stay_length
BEFORE INSERT OR UPDATE OF kind, program_id, start_on, planned_end_on, cancelled_at ON programs_placement
FOR EACH ROW EXECUTE FUNCTION programs_check_stay_length();
"""
DROP_STAY_LENGTH = """
DROP TRIGGER IF EXISTS placement_stay_length ON programs_placement;
DROP FUNCTION IF EXISTS programs_check_stay_length();
"""

HISTORY_TABLES = ["programs_stayextension", "programs_transition", "programs_discharge", "programs_reversal"]


class Migration(migrations.Migration):
    dependencies = [("programs", "0001_initial")]

    operations = [
        migrations.RunSQL(COMPOSITE_KEYS, DROP_COMPOSITE_KEYS),
        migrations.RunSQL(STAY_LENGTH, DROP_STAY_LENGTH),
        *[migrations.RunSQL(*append_only_sql(table)) for table in HISTORY_TABLES],
    ]
