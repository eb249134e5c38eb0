"""The care journey's worklists (issue 12): step-down due, nearing discharge, aftercare check-ins.

Each list has the columns that decide it and an action on each row, for the roles that may act.
"""

import datetime as dt

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.urls import reverse

from clinic.models import AuditEvent
from programs import services
from programs.errors import CheckInClosed
from programs.models import AftercareCheckIn, Placement
from tests.factories import BedFactory, PatientFactory, ProgramFactory
from tests.query_counts import assert_constant_queries

pytestmark = pytest.mark.django_db

D = dt.timedelta
# A Monday, mid-morning in New York (the programs' zone); the same date in UTC.
SHIFT = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 7)
STEP_DOWN = reverse("admin:programs_worklist_step_down")
NEARING = reverse("admin:programs_worklist_nearing_discharge")


def checkins_url(which: str) -> str:
    return reverse("admin:programs_worklist_checkins", args=[which])


@pytest.fixture(autouse=True)
def shift():
    with time_machine.travel(SHIFT, tick=True):
        yield


def admit(program, clinician, *, days_ago: int, planned: int | None = None, patient=None) -> Placement:
    return services.admit_to_residential(
        patient=patient or PatientFactory(),
        bed=BedFactory(program=program),
        admitted_on=TODAY - D(days=days_ago),
        planned_discharge_on=None if planned is None else TODAY + D(days=planned),
        admitted_by=clinician,
    )


@pytest.fixture
def ward(residential, clinician, patient, other_patient):
    """Past the minimum and due out in 3 days; past the planned discharge by 2 days; ten days in."""
    return {
        "due": admit(residential, clinician, days_ago=35, planned=3, patient=patient),
        "overdue": admit(residential, clinician, days_ago=40, planned=-2, patient=other_patient),
        "early": admit(residential, clinician, days_ago=10),
    }


def _rows(response) -> dict:
    assert response.status_code == 200
    return {row.key: row for row in response.context["worklist"].rows}


def test_step_down_due_shows_days_in_care_past_minimum_planned_end_and_a_step_down(
    client, site_clinician, ward, patient
):
    client.force_login(site_clinician)

    rows = _rows(client.get(STEP_DOWN))

    due, overdue = ward["due"], ward["overdue"]
    assert set(rows) == {str(due.public_id), str(overdue.public_id)}  # ten days in: not yet
    row = rows[str(due.public_id)]
    assert row.patient == patient
    assert row.cells == ["Day 36", "5 days", "Dec. 10, 2026", due.bed.label]
    assert row.flags == []
    assert [a.label for a in row.actions] == ["Step down"]
    assert row.actions[0].url == (
        reverse("admin:patients_patient_workflow", args=[patient.pk, "step-down"]) + f"?next={STEP_DOWN}"
    )
    # A stay past its planned discharge is flagged, not shown as plainly active.
    late = rows[str(overdue.public_id)]
    assert late.cells[:3] == ["Day 41", "10 days", "Dec. 5, 2026"]
    assert [f.text for f in late.flags] == ["Past planned discharge by 2 days"]
    page = client.get(STEP_DOWN).content.decode()
    assert "Past planned discharge by 2 days" in page and "Days past minimum" not in page


def test_nearing_discharge_shows_days_left_and_extend_and_discharge(client, site_clinician, ward, patient):
    client.force_login(site_clinician)

    rows = _rows(client.get(NEARING))

    assert set(rows) == {str(ward["due"].public_id), str(ward["overdue"].public_id)}
    row = rows[str(ward["due"].public_id)]
    assert row.cells == ["3 days", "Dec. 10, 2026", "55 days (Jan. 31, 2027)", "Day 36"]
    assert [a.label for a in row.actions] == ["Extend", "Discharge"]
    assert row.actions[1].url.startswith(reverse("admin:patients_patient_workflow", args=[patient.pk, "discharge"]))
    late = rows[str(ward["overdue"].public_id)]
    assert late.cells[0] == "past" and [f.text for f in late.flags] == ["Past planned discharge by 2 days"]


def test_the_program_maximum_is_flagged_when_it_comes_first(client, site_clinician, residential, clinician):
    stay = admit(residential, clinician, days_ago=85, planned=5)  # planned to the maximum (90 days)
    client.force_login(site_clinician)

    row = _rows(client.get(NEARING))[str(stay.public_id)]

    assert row.cells[:3] == ["5 days", "Dec. 12, 2026", "5 days (Dec. 12, 2026)"]
    assert [f.text for f in row.flags] == ["Program maximum on Dec. 12, 2026"]


def test_step_down_from_the_worklist_returns_to_it(client, site_clinician, iop, ward):
    client.force_login(site_clinician)
    action = _rows(client.get(STEP_DOWN))[str(ward["due"].public_id)].actions[0]

    response = client.post(action.url, {"to_program": iop.pk, "on": TODAY.isoformat(), "reason": "Stable"})

    assert response.status_code == 302 and response["Location"] == STEP_DOWN
    assert str(ward["due"].public_id) not in _rows(client.get(STEP_DOWN))
    assert Placement.objects.get(pk=ward["due"].pk).ended_on == TODAY


def test_front_desk_sees_the_lists_without_actions_and_cannot_act(client, front_desk, iop, ward, patient):
    client.force_login(front_desk)

    for url in (STEP_DOWN, NEARING):
        rows = _rows(client.get(url))
        assert rows and all(row.actions == [] for row in rows.values())
        assert "Step down</a>" not in client.get(url).content.decode()
    step_down = reverse("admin:patients_patient_workflow", args=[patient.pk, "step-down"])
    response = client.post(step_down, {"to_program": iop.pk, "on": TODAY.isoformat(), "reason": "Stable"})
    assert response.status_code == 403
    assert Placement.objects.get(pk=ward["due"].pk).ended_on is None


def test_a_colleague_at_another_site_sees_no_one(client, colleague_elsewhere, ward, patient):
    client.force_login(colleague_elsewhere)

    for url in (STEP_DOWN, NEARING):
        response = client.get(url)
        assert _rows(response) == {} and patient.mrn not in response.content.decode()


def test_anonymous_callers_are_sent_to_log_in(client):
    response = client.get(STEP_DOWN)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_each_program_is_judged_on_its_own_local_today(client, superuser, site, clinician):
    # 02:00 UTC on Dec 8 is still Dec 7 in New York; Auckland is already on Dec 8.
    new_york = ProgramFactory(site=site, name="New York Residential", time_zone="America/New_York")
    auckland = ProgramFactory(site=site, name="Auckland Residential", time_zone="Pacific/Auckland")
    # Both reach the 30-day minimum on Dec 8.
    ny = admit(new_york, clinician, days_ago=29)
    nz = admit(auckland, clinician, days_ago=29)
    with time_machine.travel(dt.datetime(2026, 12, 8, 2, 0, tzinfo=dt.UTC), tick=False):
        client.force_login(superuser)
        rows = _rows(client.get(STEP_DOWN))
        figures = {f.label: f.value for f in client.get(reverse("admin:index")).context["dashboard"].figures}

    assert str(nz.public_id) in rows and str(ny.public_id) not in rows
    assert rows[str(nz.public_id)].cells[:2] == ["Day 31", "0 days"]
    assert figures["Due a step-down decision"] == 1


def test_the_list_records_whom_it_showed(client, site_clinician, ward, patient, other_patient):
    client.force_login(site_clinician)

    client.get(STEP_DOWN)

    shown = AuditEvent.objects.filter(user=site_clinician, detail="worklist step-down-due")
    assert set(shown.values_list("patient_id", flat=True)) == {patient.pk, other_patient.pk}


@pytest.mark.parametrize("url", [STEP_DOWN, NEARING])
def test_queries_stay_constant_as_the_list_grows(client, superuser, residential, clinician, other_site, url):
    client.force_login(superuser)
    elsewhere = ProgramFactory(site=other_site, name="Lakeview Residential")

    def fill(count: int) -> None:
        for i in range(count):
            admit(residential if i % 2 else elsewhere, clinician, days_ago=33 + i % 5, planned=2)

    assert_constant_queries(client, url, fill, big=20, rows=_rows)


# --- aftercare check-ins ----------------------------------------------------------------------


@pytest.fixture
def aftercare(residential, clinician, patient, other_patient):
    """One patient discharged 12 days ago (day-7 check-in missed), one 3 days ago (day-7 due in 4 days)."""
    late = admit(residential, clinician, days_ago=45, patient=patient)
    services.discharge(episode=late.episode, on=TODAY - D(days=12), disposition="completed", decided_by=clinician)
    recent = admit(residential, clinician, days_ago=40, patient=other_patient)
    services.discharge(episode=recent.episode, on=TODAY - D(days=3), disposition="completed", decided_by=clinician)
    checkins = AftercareCheckIn.objects.filter(offset_days=7)
    return {"missed": checkins.get(plan__patient=patient), "due": checkins.get(plan__patient=other_patient)}


def test_missed_check_ins_show_due_date_days_late_and_record_contact(client, site_clinician, aftercare, patient):
    client.force_login(site_clinician)

    rows = _rows(client.get(checkins_url("missed")))

    missed = aftercare["missed"]
    assert list(rows) == [str(missed.public_id)]
    row = rows[str(missed.public_id)]
    assert row.patient == patient and row.cells == ["Day 7", "Dec. 2, 2026", "5 days"]
    assert [a.label for a in row.actions] == ["Record contact"]


def test_due_check_ins_show_the_due_date(client, site_clinician, aftercare):
    client.force_login(site_clinician)

    rows = _rows(client.get(checkins_url("due")))

    assert list(rows) == [str(aftercare["due"].public_id)]
    assert rows[str(aftercare["due"].public_id)].cells == ["Day 7", "Dec. 11, 2026", "not yet"]


def test_recording_a_contact_completes_the_check_in(client, site_clinician, aftercare):
    client.force_login(site_clinician)
    action = _rows(client.get(checkins_url("missed")))[str(aftercare["missed"].public_id)].actions[0]

    response = client.post(action.url, {"note": "Reached by phone; doing well, back at work."})

    assert response.status_code == 302 and response["Location"] == checkins_url("missed")
    checkin = AftercareCheckIn.objects.get(pk=aftercare["missed"].pk)
    assert checkin.status == "completed" and checkin.contacted_by == site_clinician and checkin.completed_at
    assert checkin.answered_at is None  # not the patient's own answer
    assert _rows(client.get(checkins_url("missed"))) == {}
    assert AuditEvent.objects.filter(patient=checkin.plan.patient, detail="aftercare contact recorded").exists()


def test_a_contact_needs_a_note_and_writes_nothing_without_one(client, site_clinician, aftercare):
    client.force_login(site_clinician)
    url = reverse("admin:programs_checkin_contact", args=[aftercare["missed"].public_id])

    response = client.post(url, {"note": "   "})

    assert response.status_code == 200 and response.context["form"].errors
    assert AftercareCheckIn.objects.get(pk=aftercare["missed"].pk).status == "scheduled"


def test_front_desk_gets_neither_the_aftercare_lists_nor_the_contact(client, front_desk, aftercare):
    client.force_login(front_desk)
    url = reverse("admin:programs_checkin_contact", args=[aftercare["missed"].public_id])

    assert client.get(checkins_url("missed")).status_code == 403
    assert client.post(url, {"note": "Called"}).status_code == 403
    assert AftercareCheckIn.objects.get(pk=aftercare["missed"].pk).contacted_by is None


def test_a_contact_elsewhere_is_not_found(client, colleague_elsewhere, aftercare):
    client.force_login(colleague_elsewhere)
    url = reverse("admin:programs_checkin_contact", args=[aftercare["missed"].public_id])

    assert client.post(url, {"note": "Called"}).status_code == 404
    assert AftercareCheckIn.objects.get(pk=aftercare["missed"].pk).contacted_by is None


def test_a_completed_check_in_refuses_a_second_contact(aftercare, clinician):
    services.record_checkin_contact(checkin=aftercare["missed"], note="Reached", recorded_by=clinician)

    with pytest.raises(CheckInClosed):
        services.record_checkin_contact(checkin=aftercare["missed"], note="Again", recorded_by=clinician)


def test_the_database_refuses_a_contact_that_does_not_complete(aftercare, clinician):
    with pytest.raises(IntegrityError), transaction.atomic():
        AftercareCheckIn.objects.filter(pk=aftercare["due"].pk).update(contacted_by=clinician, contact_note="x")


@pytest.mark.parametrize("which", ["due", "missed"])
def test_check_in_queries_stay_constant(client, superuser, residential, clinician, which):
    client.force_login(superuser)

    def fill(count: int) -> None:
        for _ in range(count):
            stay = admit(residential, clinician, days_ago=45)
            on = TODAY - D(days=12 if which == "missed" else 3)
            services.discharge(episode=stay.episode, on=on, disposition="completed", decided_by=clinician)

    assert_constant_queries(client, checkins_url(which), fill, big=12, rows=_rows)


# --- Admissions and discharges this week (the dashboard's two figures) ------------------------------

ADMISSIONS = reverse("admin:programs_worklist_admissions")
DISCHARGES = reverse("admin:programs_worklist_discharges")


@pytest.fixture
def week(residential, clinician, patient, other_patient):
    """Admitted today (Monday); admitted twenty days ago and discharged today, completed."""
    admitted = admit(residential, clinician, days_ago=0, patient=patient)
    leaving = admit(residential, clinician, days_ago=20, patient=other_patient)
    discharge = services.discharge(episode=leaving.episode, on=TODAY, disposition="completed", decided_by=clinician)
    return {"admitted": admitted, "leaving": leaving, "discharge": discharge}


def test_admissions_this_week_show_bed_date_and_length_of_stay(client, site_clinician, week, patient):
    client.force_login(site_clinician)

    rows = _rows(client.get(ADMISSIONS))

    admitted = week["admitted"]
    assert list(rows) == [str(admitted.public_id)]  # the stay admitted twenty days ago is not this week's
    row = rows[str(admitted.public_id)]
    assert row.patient == patient and row.cells == [admitted.bed.label, "Dec. 7, 2026", "Day 1"]
    assert [a.label for a in row.actions] == ["Open chart"]
    assert row.actions[0].url == reverse("admin:patients_patient_change", args=[patient.pk])


def test_discharges_this_week_show_length_of_stay_and_discharge_type(client, site_clinician, week, other_patient):
    client.force_login(site_clinician)

    (row,) = _rows(client.get(DISCHARGES)).values()

    assert row.patient == other_patient
    assert row.cells == [week["leaving"].bed.label, "Dec. 7, 2026", "20 days", "Completed treatment"]
    assert [a.label for a in row.actions] == ["Open chart"]


def test_the_week_figures_open_these_lists_and_agree(client, site_clinician, week):
    client.force_login(site_clinician)

    figures = {f.label: f for f in client.get(reverse("admin:index")).context["dashboard"].figures}

    for label, url in [("Admissions this week", ADMISSIONS), ("Discharges this week", DISCHARGES)]:
        assert figures[label].url == url
        assert client.get(url).context["worklist"].counted == figures[label].value == 1, label


def test_the_week_lists_are_scoped_refused_without_the_permission_and_audited(
    client, site_clinician, colleague_elsewhere, front_desk, week, patient, other_patient
):
    client.force_login(colleague_elsewhere)
    assert _rows(client.get(ADMISSIONS)) == {} and _rows(client.get(DISCHARGES)) == {}
    client.force_login(front_desk)  # where patients are, not why they left
    assert list(_rows(client.get(ADMISSIONS))) == [str(week["admitted"].public_id)]
    assert client.get(DISCHARGES).status_code == 403
    client.force_login(site_clinician)

    client.get(ADMISSIONS)
    client.get(DISCHARGES)

    for detail, shown in [("worklist admissions-week", {patient.pk}), ("worklist discharges-week", {other_patient.pk})]:
        events = AuditEvent.objects.filter(user=site_clinician, detail=detail).values_list("patient_id", flat=True)
        assert set(events) == shown, detail


@pytest.mark.parametrize("url", [ADMISSIONS, DISCHARGES])
def test_week_lists_queries_stay_constant(client, superuser, residential, clinician, url):
    client.force_login(superuser)

    def fill(count: int) -> None:
        for _ in range(count):
            stay = admit(residential, clinician, days_ago=0 if url == ADMISSIONS else 3)
            if url == DISCHARGES:
                services.discharge(episode=stay.episode, on=TODAY, disposition="completed", decided_by=clinician)

    assert_constant_queries(client, url, fill, big=12)


def test_the_contact_form_names_the_list_it_returns_to(client, site_clinician, aftercare):
    client.force_login(site_clinician)
    missed = reverse("admin:programs_worklist_checkins", args=["missed"])
    url = reverse("admin:programs_checkin_contact", args=[aftercare["missed"].public_id])

    page = client.get(url, {"next": missed}).content.decode()

    assert f'<a href="{missed}">Aftercare check-ins missed</a>' in page
