"""IOP worklists (issue 12): below the weekly minimum with the hours, and missed sessions with their dates."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.access import Role
from clinic.localtime import SESSION_KEY
from clinic.models import AuditEvent
from programs import services as journey
from reminders.models import FollowUpItem
from scheduling import services
from scheduling.models import Booking, Session, SessionKind
from tests.factories import PatientFactory, staff_member
from tests.query_counts import assert_constant_queries
from tests.scheduling.conftest import make_series, monday_weeks_ago

pytestmark = pytest.mark.django_db

D = dt.timedelta
# A Monday, 10:00 in New York (the program's zone): this week's groups are all still ahead.
SHIFT = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 7)
LAST_MONDAY = dt.date(2026, 11, 30)
SCHEDULED = reverse("admin:programs_worklist_below_minimum", args=["scheduled"])
ATTENDED = reverse("admin:programs_worklist_below_minimum", args=["attended"])
MISSED = reverse("admin:programs_worklist_missed_sessions")


@pytest.fixture(autouse=True)
def shift():
    with time_machine.travel(SHIFT, tick=True):
        yield


@pytest.fixture
def track(iop, clinician):
    """Monday and Wednesday evenings, three hours each (6 h a week, under the adult minimum of 9), and
    individual sessions on Tuesdays and Thursdays that nobody is booked into until someone books them."""
    start = monday_weeks_ago(TODAY, 3)
    group = make_series(iop, clinician, rule="FREQ=WEEKLY;BYDAY=MO,WE", starts_on=start)
    make_series(
        iop, clinician, name="Individual counselling", kind=SessionKind.INDIVIDUAL_COUNSELLING,
        rule="FREQ=WEEKLY;BYDAY=TU,TH", start_time=dt.time(10, 0), duration_minutes=60, capacity=1,
        starts_on=start, books_enrolled=False,
    )  # fmt: skip
    services.generate_sessions(from_on=start)
    return group


def enroll(patient, iop, clinician):
    placement = journey.enroll_in_iop(
        patient=patient, program=iop, start_on=monday_weeks_ago(TODAY, 3), enrolled_by=clinician
    )
    services.generate_sessions(from_on=monday_weeks_ago(TODAY, 3))  # the weeks since, as a backfill
    return placement


def mark(group, day: dt.date, clinician, **marks) -> None:
    session = Session.objects.get(series=group, local_date=day)
    services.record_attendance(
        session=session,
        marks=[services.Mark(patient_id=int(pk), attendance=value) for pk, value in marks.items()],
        recorded_by=clinician,
    )


@pytest.fixture
def clinic(track, iop, clinician, patient, other_patient):
    """``patient`` missed both groups last week (a run of two, a follow-up opened); ``other_patient`` missed two
    the week before (a follow-up, still open), then came on Monday and missed Wednesday."""
    alex = enroll(patient, iop, clinician)
    sam = enroll(other_patient, iop, clinician)
    before = LAST_MONDAY - D(days=7)
    mark(track, before, clinician, **{str(patient.pk): "present", str(other_patient.pk): "absent"})
    mark(track, before + D(days=2), clinician, **{str(patient.pk): "present", str(other_patient.pk): "absent"})
    mark(track, LAST_MONDAY, clinician, **{str(patient.pk): "absent", str(other_patient.pk): "present"})
    mark(track, LAST_MONDAY + D(days=2), clinician, **{str(patient.pk): "absent", str(other_patient.pk): "absent"})
    return {"alex": alex, "sam": sam}


def _rows(response) -> dict:
    assert response.status_code == 200
    return {row.key: row for row in response.context["worklist"].rows}


def test_below_minimum_this_week_shows_the_hours_against_the_band(client, site_clinician, clinic, patient):
    client.force_login(site_clinician)

    rows = _rows(client.get(SCHEDULED))

    assert set(rows) == {str(clinic["alex"].public_id), str(clinic["sam"].public_id)}
    row = rows[str(clinic["alex"].public_id)]
    assert row.patient == patient
    assert row.cells == ["Dec. 7, 2026 to Dec. 13, 2026", "6 h", "0 h", "9 h to 19 h"]
    assert [f.text for f in row.flags] == ["Short by 3 h"]
    assert [a.label for a in row.actions] == ["Book a session"]


def test_below_minimum_last_week_counts_the_hours_attended(client, site_clinician, clinic):
    client.force_login(site_clinician)

    rows = _rows(client.get(ATTENDED))

    alex, sam = rows[str(clinic["alex"].public_id)], rows[str(clinic["sam"].public_id)]
    assert alex.cells == ["Nov. 30, 2026 to Dec. 6, 2026", "6 h", "0 h", "9 h to 19 h"]
    assert sam.cells[1:3] == ["6 h", "3 h"] and [f.text for f in sam.flags] == ["Short by 6 h"]


def test_booking_a_session_from_the_list_adds_its_hours(client, site_clinician, clinic, patient):
    client.force_login(site_clinician)
    action = _rows(client.get(SCHEDULED))[str(clinic["alex"].public_id)].actions[0]
    form = client.get(action.url).context["form"]
    choices = list(form.fields["session"].queryset)
    assert choices and all(s.series.name == "Individual counselling" for s in choices)
    tuesday = choices[0]
    assert tuesday.local_date == TODAY + D(days=1)
    label = "Dec. 8, 2026, 10 a.m. · Individual counselling · 1 seat(s) free"  # the user's zone: none shown
    assert label in client.get(action.url).content.decode()

    response = client.post(action.url, {"session": tuesday.pk})

    assert response.status_code == 302 and response["Location"] == SCHEDULED
    assert Booking.objects.active().filter(session=tuesday, patient=patient).exists()
    assert _rows(client.get(SCHEDULED))[str(clinic["alex"].public_id)].cells[1] == "7 h"
    assert AuditEvent.objects.filter(patient=patient, action="create", detail="booked from a worklist").exists()


def test_a_full_session_is_refused_in_words_and_nothing_is_booked(client, site_clinician, clinic, other_patient):
    client.force_login(site_clinician)
    tuesday = Session.objects.get(series__name="Individual counselling", local_date=TODAY + D(days=1))
    url = reverse("admin:programs_enrollment_book", args=[clinic["alex"].public_id])
    client.get(url)
    services.book_session(session=tuesday, patient=other_patient)  # the one seat goes meanwhile

    response = client.post(url, {"session": tuesday.pk})

    assert response.status_code == 200 and response.context["form"].errors["session"]
    assert not Booking.objects.active().filter(session=tuesday, patient=clinic["alex"].patient).exists()


def test_a_role_that_may_not_book_sees_the_list_without_the_action_and_gets_403(client, site, clinic):
    reviewer = staff_member(role=Role.UR_COORDINATOR, sites=[site], username="uma.ur")
    client.force_login(reviewer)
    tuesday = Session.objects.get(series__name="Individual counselling", local_date=TODAY + D(days=1))

    rows = _rows(client.get(SCHEDULED))
    response = client.post(reverse("admin:programs_enrollment_book", args=[clinic["alex"].public_id]),
                           {"session": tuesday.pk})  # fmt: skip

    assert rows and all(row.actions == [] for row in rows.values())
    assert response.status_code == 403 and not Booking.objects.filter(session=tuesday).exists()


def test_front_desk_books_sessions_too(client, front_desk, clinic):
    client.force_login(front_desk)

    rows = _rows(client.get(SCHEDULED))

    assert all([a.label for a in row.actions] == ["Book a session"] for row in rows.values())


def test_session_times_name_the_zone_only_for_a_user_reading_another_zone(client, site_clinician, clinic, patient):
    client.force_login(site_clinician)
    session = client.session
    session[SESSION_KEY] = "America/Los_Angeles"  # a colleague who works on Pacific time
    session.save()

    alex = next(row for row in client.get(MISSED).context["worklist"].rows if row.patient == patient)

    assert alex.cells == ["Dec. 2, 2026, 6 p.m. EST, Nov. 30, 2026, 6 p.m. EST"]


def test_missed_sessions_show_the_dates_and_resolve_the_follow_up(client, site_clinician, clinic, patient):
    client.force_login(site_clinician)

    worklist = client.get(MISSED).context["worklist"]

    rows = {row.patient: row for row in worklist.rows}
    alex = rows[patient]
    assert alex.cells == ["Dec. 2, 2026, 6 p.m., Nov. 30, 2026, 6 p.m."]
    assert [f.text for f in alex.flags] == ["2 in a row", "Follow-up open since Dec. 7, 2026"]
    assert [a.label for a in alex.actions] == ["Resolve"]
    # Sam's follow-up is still open though Sam came since: listed with the latest absences, not counted.
    sam = rows[clinic["sam"].patient]
    assert sam.cells == ["Dec. 2, 2026, 6 p.m., Nov. 25, 2026, 6 p.m."]
    assert sam.flags[0].text == "Attended since" and not sam.counted
    assert worklist.counted == 1


def test_resolving_from_the_list(client, site_clinician, clinic, patient):
    client.force_login(site_clinician)
    action = next(r for r in client.get(MISSED).context["worklist"].rows if r.patient == patient).actions[0]

    response = client.post(action.url, {"note": "Called; car broke down, back on Monday."})

    assert response.status_code == 302 and response["Location"] == MISSED
    item = FollowUpItem.objects.get(patient=patient)
    assert item.status == "resolved" and item.resolved_by == site_clinician
    assert item.resolution_note == "Called; car broke down, back on Monday."
    row = next(r for r in client.get(MISSED).context["worklist"].rows if r.patient == patient)
    assert row.actions == []  # still two in a row, but nothing left to resolve


def test_front_desk_sees_the_absences_but_cannot_resolve(client, front_desk, clinic, patient):
    client.force_login(front_desk)
    item = FollowUpItem.objects.get(patient=patient)

    worklist = client.get(MISSED).context["worklist"]
    response = client.post(reverse("admin:reminders_followup_resolve", args=[item.public_id]), {"note": ""})

    assert [row.patient for row in worklist.rows] == [patient]  # the run; follow-ups are clinical work
    assert worklist.rows[0].actions == [] and "Follow-up" not in " ".join(f.text for f in worklist.rows[0].flags)
    assert response.status_code == 403
    assert FollowUpItem.objects.get(pk=item.pk).status == "open"


def test_a_colleague_elsewhere_sees_no_one_and_cannot_resolve(client, colleague_elsewhere, clinic, patient):
    client.force_login(colleague_elsewhere)
    item = FollowUpItem.objects.get(patient=patient)

    assert client.get(MISSED).context["worklist"].rows == []
    assert client.get(SCHEDULED).context["worklist"].rows == []
    assert client.post(reverse("admin:reminders_followup_resolve", args=[item.public_id])).status_code == 404
    assert FollowUpItem.objects.get(pk=item.pk).status == "open"


def test_the_lists_record_whom_they_showed(client, site_clinician, clinic, patient, other_patient):
    client.force_login(site_clinician)

    client.get(MISSED)
    client.get(SCHEDULED)

    for detail in ("worklist missed-sessions", "worklist below-minimum-scheduled"):
        shown = AuditEvent.objects.filter(user=site_clinician, detail=detail).values_list("patient_id", flat=True)
        assert set(shown) == {patient.pk, other_patient.pk}, detail


def test_the_figures_open_these_lists_and_agree(client, site_clinician, clinic):
    client.force_login(site_clinician)

    figures = {f.label: f for f in client.get(reverse("admin:index")).context["dashboard"].schedule}

    for label, url in [
        ("IOP below weekly minimum, scheduled this week", SCHEDULED),
        ("IOP below weekly minimum, attended last week", ATTENDED),
        ("Consecutive absences", MISSED),
    ]:
        assert figures[label].url == url
        assert client.get(url).context["worklist"].counted == figures[label].value, label


@pytest.mark.parametrize("url", [SCHEDULED, MISSED])
def test_queries_stay_constant_as_the_list_grows(client, superuser, track, iop, clinician, url):
    client.force_login(superuser)

    def fill(count: int) -> None:
        patients = [PatientFactory() for _ in range(count)]
        for patient in patients:
            enroll(patient, iop, clinician)
        for day in (LAST_MONDAY, LAST_MONDAY + D(days=2)):
            mark(track, day, clinician, **{str(p.pk): "absent" for p in patients})

    assert_constant_queries(client, url, fill, big=12)


# --- Open follow-up items (the dashboard's "Open follow-up items" figure) ----------------------------

FOLLOW_UPS = reverse("admin:reminders_worklist_follow_ups")


@pytest.fixture
def help_request(iop, clinic, third_patient):
    """A patient who asked for help three days ago (urgent), besides the two missed-session follow-ups."""
    with time_machine.travel(SHIFT - D(days=3), tick=False):
        return FollowUpItem.objects.create(
            program=iop, patient=third_patient, kind="help_requested", urgency="urgent", details="Asked for a call back"
        )


@pytest.fixture
def third_patient():
    return PatientFactory()


def test_follow_ups_list_kind_opened_reason_and_days_open(client, site_clinician, help_request):
    client.force_login(site_clinician)

    worklist = client.get(FOLLOW_UPS).context["worklist"]

    assert worklist.columns == ["Kind", "Opened", "Reason", "Days open"]
    first, *others = worklist.rows
    assert first.key == str(help_request.public_id) and first.patient == help_request.patient
    assert first.cells == ["Patient asked for help", "Dec. 4, 2026, 10 a.m.", "Asked for a call back", "3 days"]
    assert [f.text for f in first.flags] == ["Urgent"]
    assert [a.label for a in first.actions] == ["Resolve"]
    assert len(others) == 2 and all(row.cells[0] == "Missed sessions" and row.cells[3] == "0 days" for row in others)
    assert worklist.counted == 3


def test_resolving_from_the_follow_ups_list(client, site_clinician, help_request):
    client.force_login(site_clinician)
    action = client.get(FOLLOW_UPS).context["worklist"].rows[0].actions[0]

    response = client.post(action.url, {"note": "Called back; fine."})

    assert response.status_code == 302 and response["Location"] == FOLLOW_UPS
    help_request.refresh_from_db()
    assert help_request.status == "resolved" and help_request.resolved_by == site_clinician
    assert str(help_request.public_id) not in {row.key for row in client.get(FOLLOW_UPS).context["worklist"].rows}


def test_front_desk_may_neither_list_nor_resolve_follow_ups(client, front_desk, help_request):
    client.force_login(front_desk)

    listed = client.get(FOLLOW_UPS)
    resolved = client.post(reverse("admin:reminders_followup_resolve", args=[help_request.public_id]), {"note": ""})

    assert listed.status_code == 403 and resolved.status_code == 403
    assert FollowUpItem.objects.get(pk=help_request.pk).status == "open"


def test_the_follow_ups_list_is_scoped_and_records_whom_it_showed(
    client, site_clinician, colleague_elsewhere, help_request, patient, other_patient
):
    client.force_login(colleague_elsewhere)
    assert client.get(FOLLOW_UPS).context["worklist"].rows == []
    client.force_login(site_clinician)

    client.get(FOLLOW_UPS)

    shown = AuditEvent.objects.filter(user=site_clinician, detail="worklist follow-ups").values_list(
        "patient_id", flat=True
    )
    assert set(shown) == {patient.pk, other_patient.pk, help_request.patient_id}


def test_the_follow_ups_figure_opens_the_list_and_agrees(client, site_clinician, help_request):
    client.force_login(site_clinician)

    figures = {f.label: f for f in client.get(reverse("admin:index")).context["dashboard"].figures}

    assert figures["Open follow-up items"].url == FOLLOW_UPS
    assert client.get(FOLLOW_UPS).context["worklist"].counted == figures["Open follow-up items"].value == 3


def test_follow_ups_queries_stay_constant_as_the_list_grows(client, superuser, iop):
    client.force_login(superuser)

    def fill(count: int) -> None:
        for _ in range(count):
            FollowUpItem.objects.create(program=iop, patient=PatientFactory(), kind="help_requested", details="Call")

    assert_constant_queries(client, FOLLOW_UPS, fill, big=12)


# --- IOP roster (the census card of an IOP program) --------------------------------------------------


def roster(program) -> str:
    return reverse("admin:programs_worklist_iop_roster", args=[program.public_id])


@pytest.fixture
def roster_clinic(clinic, iop, residential, bed, clinician, third_patient):
    """Alex and Sam in the evening track since Nov. 16; a third patient enrolls tomorrow; a fourth is in a bed."""
    journey.enroll_in_iop(patient=third_patient, program=iop, start_on=TODAY + D(days=1), enrolled_by=clinician)
    journey.admit_to_residential(patient=PatientFactory(), bed=bed, admitted_on=TODAY, admitted_by=clinician)
    return clinic


def test_the_roster_lists_everyone_enrolled_today_with_the_weeks_hours_and_next_session(
    client, site_clinician, roster_clinic, iop, patient
):
    client.force_login(site_clinician)

    worklist = client.get(roster(iop)).context["worklist"]

    alex, sam = roster_clinic["alex"], roster_clinic["sam"]
    assert [row.key for row in worklist.rows] == [str(sam.public_id), str(alex.public_id)]  # Chen, Rivera
    assert worklist.columns == ["Enrollment", "Booked this week", "Scheduled this week", "Attended this week",
                                "Band", "Next session"]  # fmt: skip
    row = worklist.rows[1]
    assert row.patient == patient
    # Tonight's group, in the program's time (the user's own zone: none shown), led by Dana Ortiz by name.
    assert row.cells == ["Day 22", "Evening process group 6 p.m., 2 sessions", "6 h", "0 h", "9 h to 19 h",
                         "Dec. 7, 2026, 6 p.m. · Evening process group · Dana Ortiz"]  # fmt: skip
    assert [f.text for f in row.flags] == ["Below the band by 3 h"]
    assert [a.label for a in row.actions] == ["Step up", "Discharge", "Book a session"]
    assert worklist.counted == 2


def test_the_roster_agrees_with_the_census_card_that_opens_it(client, site_clinician, roster_clinic, iop):
    client.force_login(site_clinician)

    census = {row["program"]: row for row in client.get(reverse("admin:index")).context["dashboard"].census}

    assert census[iop]["url"] == roster(iop)
    assert client.get(roster(iop)).context["worklist"].counted == census[iop]["patients"] == 2


def test_booking_from_the_roster_comes_back_with_the_hours(client, site_clinician, roster_clinic, iop):
    client.force_login(site_clinician)
    alex = roster_clinic["alex"]
    book = _rows(client.get(roster(iop)))[str(alex.public_id)].actions[2]
    tuesday = Session.objects.get(series__name="Individual counselling", local_date=TODAY + D(days=1))

    response = client.post(book.url, {"session": tuesday.pk})

    assert response.status_code == 302 and response["Location"] == roster(iop)
    rows = _rows(client.get(roster(iop)))
    assert rows[str(alex.public_id)].cells[2] == "7 h"
    # What each patient is booked into this week: Alex's own session shows on Alex's row only.
    assert rows[str(alex.public_id)].cells[1] == (
        "Individual counselling 10 a.m., 1 session; Evening process group 6 p.m., 2 sessions"
    )
    assert "Individual counselling" not in rows[str(roster_clinic["sam"].public_id)].cells[1]


def test_step_up_from_the_roster_returns_to_it(client, site_clinician, roster_clinic, iop, other_bed):
    client.force_login(site_clinician)
    alex = roster_clinic["alex"]
    step_up = _rows(client.get(roster(iop)))[str(alex.public_id)].actions[0]

    page = client.get(step_up.url)

    assert page.status_code == 200 and f"next={roster(iop)}" in step_up.url


def test_front_desk_sees_the_roster_and_books_but_gets_no_clinical_action(client, front_desk, roster_clinic, iop):
    client.force_login(front_desk)
    alex = roster_clinic["alex"]

    rows = _rows(client.get(roster(iop)))
    step_up = client.get(reverse("admin:patients_patient_workflow", args=[alex.patient_id, "step-up"]))

    assert all([a.label for a in row.actions] == ["Book a session"] for row in rows.values())
    assert step_up.status_code == 403


def test_the_roster_is_scoped_audited_and_only_for_iop_programs(
    client, site_clinician, colleague_elsewhere, roster_clinic, iop, residential, patient, other_patient
):
    client.force_login(colleague_elsewhere)
    assert client.get(roster(iop)).status_code == 404
    client.force_login(site_clinician)
    assert client.get(roster(residential)).status_code == 404

    client.get(roster(iop))

    shown = AuditEvent.objects.filter(user=site_clinician, detail="worklist iop-roster").values_list(
        "patient_id", flat=True
    )
    assert set(shown) == {patient.pk, other_patient.pk}


def test_roster_queries_stay_constant_as_it_grows(client, superuser, track, iop, clinician):
    client.force_login(superuser)

    def fill(count: int) -> None:
        for _ in range(count):
            enroll(PatientFactory(), iop, clinician)

    assert_constant_queries(client, roster(iop), fill, big=12)


def test_the_book_form_names_the_list_it_returns_to(client, site_clinician, clinic):
    client.force_login(site_clinician)
    url = reverse("admin:programs_enrollment_book", args=[clinic["alex"].public_id])

    roster = reverse("admin:programs_worklist_iop_roster", args=[clinic["alex"].program.public_id])

    from_the_list = client.get(url, {"next": SCHEDULED}).content.decode()
    from_the_roster = client.get(url, {"next": roster}).content.decode()

    assert f'<a href="{SCHEDULED}">IOP below weekly minimum, scheduled this week</a>' in from_the_list
    assert f'<a href="{roster}">IOP roster</a>' in from_the_roster
