"""The bed board (issue 12): every bed of a residential program, what needs deciding, one tap to act."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clinic.models import AuditEvent
from programs import services
from programs.models import Bed, Placement
from tests.factories import BedFactory, PatientFactory, ProgramFactory

pytestmark = pytest.mark.django_db

D = dt.timedelta
# A Monday, mid-morning in New York (the programs' zone) and the same date in UTC.
SHIFT = dt.datetime(2026, 12, 7, 15, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 7)


@pytest.fixture(autouse=True)
def shift():
    with time_machine.travel(SHIFT, tick=True):
        yield


@pytest.fixture
def ward(residential, clinician, patient, other_patient):
    """Four beds: one occupied past the minimum and due out this week, one free since a discharge,
    one free with a planned admission, one out of service."""
    busy = BedFactory(program=residential, label="104-A")
    freed = BedFactory(program=residential, label="104-B")
    booked = BedFactory(program=residential, label="105-A")
    BedFactory(program=residential, label="105-B", status=Bed.Status.OUT_OF_SERVICE)
    services.admit_to_residential(
        patient=patient, bed=busy, admitted_on=TODAY - D(days=35), planned_discharge_on=TODAY + D(days=3),
        admitted_by=clinician,
    )  # fmt: skip
    former = PatientFactory(legal_first_name="Jo", legal_last_name="Former")
    stay = services.admit_to_residential(
        patient=former, bed=freed, admitted_on=TODAY - D(days=40), admitted_by=clinician
    )
    services.discharge(episode=stay.episode, on=TODAY - D(days=4), disposition="completed", decided_by=clinician)
    services.admit_to_residential(
        patient=other_patient, bed=booked, admitted_on=TODAY + D(days=2), admitted_by=clinician
    )
    return {"busy": busy, "freed": freed, "booked": booked}


def _board(client, program=None):
    if program is None:
        return client.get(reverse("admin:programs_bed_board"))
    return client.get(reverse("admin:programs_bed_board_program", args=[program.public_id]))


def _rows(response) -> dict:
    return {item.row.bed.label: item for item in response.context["rows"]}


def test_each_bed_shows_who_is_in_it_how_far_along_and_what_needs_deciding(
    client, site_clinician, residential, ward, patient, other_patient
):
    client.force_login(site_clinician)

    response = _board(client, residential)

    assert response.status_code == 200
    rows = _rows(response)
    assert list(rows) == ["104-A", "104-B", "105-A", "105-B"]
    busy = rows["104-A"].row
    assert busy.stay.patient == patient and busy.day_number == 36 and busy.planned_length == 38
    assert busy.past_minimum_by == 5 and busy.nearing_end and busy.frees_this_week and not busy.past_planned_end
    freed = rows["104-B"].row
    assert freed.stay is None and freed.free_since == TODAY - D(days=4) and freed.next_stay is None
    booked = rows["105-A"].row
    assert booked.stay is None and booked.next_stay.patient == other_patient
    assert not rows["105-B"].row.in_service
    assert response.context["summary"] == {
        "occupied": 1,
        "free": 2,
        "reserved": 0,
        "out_of_service": 1,
        "frees_this_week": 1,
    }
    page = response.content.decode()
    assert "Day 36 of 38" in page and patient.mrn in page and "past minimum by 5 days" in page
    assert "Planned discharge within 3 days" in page
    assert "Free since Dec. 3, 2026" in page and f"Next admission Dec. 9, 2026: {other_patient.display_name}" in page


def test_a_clinician_gets_one_tap_actions(client, site_clinician, residential, ward, patient):
    client.force_login(site_clinician)

    rows = _rows(_board(client, residential))

    assert [label for label, _ in rows["104-A"].actions] == ["Step down", "Extend", "Discharge"]
    assert (
        rows["104-A"]
        .actions[0][1]
        .startswith(reverse("admin:patients_patient_workflow", args=[patient.pk, "step-down"]))
    )
    assert rows["104-B"].actions == [("Admit", reverse("admin:programs_bed_admit", args=[ward["freed"].public_id]))]
    assert rows["105-B"].actions == []  # out of service


def test_front_desk_sees_the_same_board_without_clinical_actions_or_judgements(
    client, front_desk, residential, ward, patient
):
    client.force_login(front_desk)

    response = _board(client, residential)

    assert response.status_code == 200
    page = response.content.decode()
    assert patient.display_name in page and patient.mrn in page and "Day 36 of 38" in page
    assert all(item.actions == [] for item in response.context["rows"])
    assert "Step down" not in page and "Admit" not in page and "Step-down decision due" not in page
    bed = ward["freed"]
    assert client.get(reverse("admin:programs_bed_admit", args=[bed.public_id])).status_code == 403


def test_a_colleague_at_another_site_gets_nothing(client, colleague_elsewhere, residential, ward, patient):
    client.force_login(colleague_elsewhere)

    assert _board(client, residential).status_code == 404
    everything = _board(client)
    assert everything.status_code == 200 and everything.context["rows"] == []
    assert patient.mrn not in everything.content.decode()
    assert client.get(reverse("admin:programs_bed_admit", args=[ward["freed"].public_id])).status_code == 404


def test_anonymous_callers_are_sent_to_log_in(client, residential):
    response = _board(client, residential)
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_all_sites_board_spans_the_users_sites(client, superuser, residential, other_site, ward):
    elsewhere = ProgramFactory(site=other_site, name="Lakeview Residential")
    BedFactory(program=elsewhere, label="201-A")
    ProgramFactory(site=other_site, iop=True)
    client.force_login(superuser)

    labels = [(item.row.bed.program.name, item.row.bed.label) for item in _board(client).context["rows"]]

    assert ("Lakeview Residential", "201-A") in labels and len(labels) == 5


def test_the_board_uses_the_programs_local_today(client, superuser, site, clinician, patient):
    # 02:00 UTC on Dec 8 is still the evening of Dec 7 in New York; Auckland is already on Dec 8.
    auckland = ProgramFactory(site=site, name="Auckland Residential", time_zone="Pacific/Auckland")
    new_york = ProgramFactory(site=site, name="New York Residential", time_zone="America/New_York")
    ny_bed = BedFactory(program=new_york, label="1-A")
    nz_bed = BedFactory(program=auckland, label="1-A")
    services.admit_to_residential(patient=patient, bed=ny_bed, admitted_on=TODAY, admitted_by=clinician)
    services.admit_to_residential(patient=PatientFactory(), bed=nz_bed, admitted_on=TODAY, admitted_by=clinician)
    with time_machine.travel(dt.datetime(2026, 12, 8, 2, 0, tzinfo=dt.UTC), tick=False):
        client.force_login(superuser)  # staff sessions time out when idle: log in at the new instant
        rows = {item.row.bed.program.name: item.row for item in _board(client).context["rows"]}

    assert rows["New York Residential"].on == TODAY and rows["New York Residential"].day_number == 1
    assert rows["Auckland Residential"].on == TODAY + D(days=1) and rows["Auckland Residential"].day_number == 2


def test_the_board_records_who_it_showed(client, site_clinician, residential, ward, patient, other_patient):
    client.force_login(site_clinician)

    _board(client, residential)

    shown = set(AuditEvent.objects.filter(user=site_clinician, detail="bed board").values_list("patient_id", flat=True))
    assert shown == {patient.pk, other_patient.pk}


def test_queries_stay_constant_as_the_ward_grows(client, superuser, residential, clinician, other_site):
    client.force_login(superuser)

    def fill(count: int, program) -> None:
        for _ in range(count):
            bed = BedFactory(program=program)
            services.admit_to_residential(
                patient=PatientFactory(), bed=bed, admitted_on=TODAY - D(days=3), admitted_by=clinician
            )
            BedFactory(program=program)

    fill(2, residential)
    _board(client)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as small:
        assert _board(client).status_code == 200
    fill(8, residential)
    fill(5, ProgramFactory(site=other_site))
    with CaptureQueriesContext(connection) as big:
        assert len(_board(client).context["rows"]) == 30
    assert len(big.captured_queries) == len(small.captured_queries)


def test_admit_from_the_board(client, site_clinician, site, residential, ward, patient):
    newcomer = PatientFactory(legal_first_name="Rae", legal_last_name="Newcomer", registered_site=site)
    client.force_login(site_clinician)
    bed = ward["freed"]
    url = reverse("admin:programs_bed_admit", args=[bed.public_id])

    form = client.get(url).context["form"]
    assert form.initial["bed"] == bed.pk and form.initial["admitted_on"] == TODAY
    assert newcomer.pk in [int(str(v)) for v, _ in form.fields["patient"].choices if v]
    assert patient.pk not in [int(str(v)) for v, _ in form.fields["patient"].choices if v]  # already in a bed

    response = client.post(url, {"patient": newcomer.pk, "bed": bed.pk, "admitted_on": TODAY.isoformat()})

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:programs_bed_board_program", args=[residential.public_id])
    stay = Placement.objects.get(patient=newcomer)
    assert stay.bed == bed and stay.start_on == TODAY and stay.planned_end_on == TODAY + D(days=30)
    board = _rows(_board(client, residential))
    assert board["104-B"].row.stay.patient == newcomer
    assert AuditEvent.objects.filter(patient=newcomer, action="create", detail="admitted from the bed board").exists()


def test_a_bed_taken_meanwhile_says_so_and_keeps_the_other_fields(client, site_clinician, site, clinician, ward):
    newcomer = PatientFactory(registered_site=site)
    client.force_login(site_clinician)
    bed = ward["freed"]
    url = reverse("admin:programs_bed_admit", args=[bed.public_id])
    client.get(url)
    services.admit_to_residential(patient=PatientFactory(), bed=bed, admitted_on=TODAY, admitted_by=clinician)

    planned = (TODAY + D(days=45)).isoformat()
    response = client.post(
        url, {"patient": newcomer.pk, "bed": bed.pk, "admitted_on": TODAY.isoformat(), "planned_discharge_on": planned}
    )

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["bed"] == [
        "Bed 104-B is no longer free: it was taken, reserved or taken out of service meanwhile. "
        "Choose another free bed."
    ]
    assert form["patient"].value() == str(newcomer.pk) and form["planned_discharge_on"].value() == planned
    assert not Placement.objects.filter(patient=newcomer).exists()


def test_a_domain_refusal_is_a_form_error_and_writes_nothing(client, site_clinician, site, ward):
    newcomer = PatientFactory(registered_site=site)
    client.force_login(site_clinician)
    bed = ward["freed"]

    response = client.post(
        reverse("admin:programs_bed_admit", args=[bed.public_id]),
        {"patient": newcomer.pk, "bed": bed.pk, "admitted_on": TODAY.isoformat(),
         "planned_discharge_on": (TODAY + D(days=5)).isoformat()},
    )  # fmt: skip

    assert response.status_code == 200
    assert "shorter than" in str(response.context["form"].errors["planned_discharge_on"])
    assert not Placement.objects.filter(patient=newcomer).exists()


def test_a_step_down_from_the_board_returns_to_the_board(client, site_clinician, residential, iop, ward, patient):
    client.force_login(site_clinician)
    step_down = dict(_rows(_board(client, residential))["104-A"].actions)["Step down"]

    response = client.post(step_down, {"to_program": iop.pk, "on": TODAY.isoformat(), "reason": "Stable"})

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:programs_bed_board_program", args=[residential.public_id])
    row = _rows(_board(client, residential))["104-A"].row
    assert row.stay is None and row.free_since == TODAY


def test_a_workflow_never_sends_the_user_off_site(client, site_clinician, iop, ward, patient):
    client.force_login(site_clinician)
    url = reverse("admin:patients_patient_workflow", args=[patient.pk, "step-down"])

    response = client.post(
        url + "?next=https://evil.example/admin/", {"to_program": iop.pk, "on": TODAY.isoformat(), "reason": "Stable"}
    )

    assert response["Location"] == reverse("admin:patients_patient_change", args=[patient.pk])


def test_the_census_cards_open_the_bed_board_and_the_iop_roster(client, site_clinician, residential, iop, ward):
    client.force_login(site_clinician)

    census = {row["program"]: row for row in client.get(reverse("admin:index")).context["dashboard"].census}

    assert census[residential]["url"] == reverse("admin:programs_bed_board_program", args=[residential.public_id])
    assert census[iop]["url"] == reverse("admin:programs_worklist_iop_roster", args=[iop.public_id])


def test_local_today_helper_matches_the_zone():
    # Guard for the fixture: the chosen instant is the same date in UTC and New York.
    assert SHIFT.astimezone(ZoneInfo("America/New_York")).date() == TODAY == SHIFT.date()
