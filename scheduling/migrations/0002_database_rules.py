"""Rules held by PostgreSQL: the seat counter of a session, and append-only attendance history."""

from django.db import migrations

from clinic.db import append_only_sql

# Sessions carry booked_count, checked against capacity by the CHECK constraint
# session_booked_within_capacity. These statement-level triggers keep it equal to
# the number of active bookings, whoever writes them (a service, a bulk insert,
# raw SQL), with one UPDATE per statement rather than one per row. Two bookings
# racing for the last seat both update the same session row: the second waits
# for the first, re-reads the counter and fails the CHECK.
SEAT_COUNTER = """
CREATE OR REPLACE FUNCTION scheduling_count_seats_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE scheduling_session s SET booked_count = s.booked_count + d.n
      FROM (SELECT session_id, count(*) AS n FROM new_rows WHERE cancelled_at IS NULL GROUP BY session_id) d
     WHERE s.id = d.session_id;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE FUNCTION scheduling_count_seats_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE scheduling_session s SET booked_count = s.booked_count + d.n
      FROM (
        SELECT session_id, sum(delta) AS n FROM (
            SELECT session_id, -1 AS delta FROM old_rows WHERE cancelled_at IS NULL
            UNION ALL
            SELECT session_id, 1 AS delta FROM new_rows WHERE cancelled_at IS NULL
        ) changes GROUP BY session_id HAVING sum(delta) <> 0
      ) d
     WHERE s.id = d.session_id;
    RETURN NULL;
END;
$$;
CREATE OR REPLACE FUNCTION scheduling_count_seats_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE scheduling_session s SET booked_count = s.booked_count - d.n
      FROM (SELECT session_id, count(*) AS n FROM old_rows WHERE cancelled_at IS NULL GROUP BY session_id) d
     WHERE s.id = d.session_id;
    RETURN NULL;
END;
$$;
CREATE TRIGGER booking_count_seats_insert AFTER INSERT ON scheduling_booking
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION scheduling_count_seats_insert();
CREATE TRIGGER booking_count_seats_update AFTER UPDATE ON scheduling_booking
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION scheduling_count_seats_update();
CREATE TRIGGER booking_count_seats_delete AFTER DELETE ON scheduling_booking
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION scheduling_count_seats_delete();
"""
DROP_SEAT_COUNTER = """
DROP TRIGGER IF EXISTS booking_count_seats_insert ON scheduling_booking;
DROP TRIGGER IF EXISTS booking_count_seats_update ON scheduling_booking;
DROP TRIGGER IF EXISTS booking_count_seats_delete ON scheduling_booking;
DROP FUNCTION IF EXISTS scheduling_count_seats_insert();
DROP FUNCTION IF EXISTS scheduling_count_seats_update();
DROP FUNCTION IF EXISTS scheduling_count_seats_delete();
"""

# A booking's patient is its placement's patient (the booking keeps its own copy
# for the exclusion constraint), held by a composite foreign key.
BOOKING_PATIENT_FROM_PLACEMENT = """
ALTER TABLE programs_placement ADD CONSTRAINT placement_id_patient_key UNIQUE (id, patient_id);
ALTER TABLE scheduling_booking
    ADD CONSTRAINT booking_placement_patient_fk
    FOREIGN KEY (placement_id, patient_id) REFERENCES programs_placement (id, patient_id);
"""
DROP_BOOKING_PATIENT_FROM_PLACEMENT = """
ALTER TABLE scheduling_booking DROP CONSTRAINT booking_placement_patient_fk;
ALTER TABLE programs_placement DROP CONSTRAINT placement_id_patient_key;
"""


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial"), ("programs", "0002_database_rules")]

    operations = [
        migrations.RunSQL(SEAT_COUNTER, DROP_SEAT_COUNTER),
        migrations.RunSQL(BOOKING_PATIENT_FROM_PLACEMENT, DROP_BOOKING_PATIENT_FROM_PLACEMENT),
        migrations.RunSQL(*append_only_sql("scheduling_attendancerecord")),
    ]
