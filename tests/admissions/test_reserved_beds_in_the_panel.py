"""Reserved beds in the staff panel (issue 12): the free-bed pickers skip them, the bed board says for whom."""

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from admissions import services
from clinic.models import AuditEvent
from programs import selectors
from programs import services as programs_services
from tests.factories import BedFactory, PatientFactory

pytestmark = pytest.mark.django_db
D = dt.timedelta


@pytest.fixture
def ward(residential, refer, site_clinician, day):
    """Three beds: one reserved for Nia from the day after tomorrow, one free, one occupied with a
    reservation from the occupant's planned discharge."""
    reserved = BedFactory(program=residential, label="201-A")
    free = BedFactory(program=residential, label="201-B")
    busy = BedFactory(program=residential, label="202-A")
    stay = programs_services.admit_to_residential(
        patient=PatientFactory(), bed=busy, admitted_on=day - D(days=20), admitted_by=site_clinician
    )
    expires = dt.datetime.combine(day + D(days=3), dt.time(22, 0), tzinfo=dt.UTC)
    held = services.reserve(
        referral=refer(upto="accepted"), bed=reserved, start_on=day + D(days=2), expires_at=expires,
        planned_end_on=day + D(days=32), reserved_by=site_clinician,
    )  # fmt: skip
    after = services.reserve(
        referral=refer(upto="accepted", first_name="Ode", last_name="Later", mrn="MRN-REF-2"), bed=busy,
        start_on=stay.planned_end_on, expires_at=expires, planned_end_on=stay.planned_end_on + D(days=30),
        reserved_by=site_clinician,
    )  # fmt: skip
    return {"reserved": reserved, "free": free, "busy": busy, "held": held, "after": after, "expires": expires}


def _rows(client, program):
    response = client.get(reverse("admin:programs_bed_board_program", args=[program.public_id]))
    assert response.status_code == 200
    return {item.row.bed.label: item for item in response.context["rows"]}, response


def test_the_admit_form_does_not_offer_a_bed_reserved_for_someone_else(client, site_clinician, ward, day):
    client.force_login(site_clinician)

    form = client.get(reverse("admin:programs_bed_admit", args=[ward["free"].public_id])).context["form"]

    offered = {int(str(value)) for value, _ in form.fields["bed"].choices if value}
    assert ward["free"].pk in offered
    assert ward["reserved"].pk not in offered and ward["busy"].pk not in offered


def test_a_lapsed_reservation_frees_the_bed_for_the_picker(ward, residential):
    with time_machine.travel(ward["expires"] + D(minutes=1), tick=False):
        on = ward["held"].start_on
        assert ward["reserved"] in selectors.free_beds(from_on=on, program=residential)


def test_the_board_shows_for_whom_a_free_bed_is_reserved_and_offers_no_admit(client, site_clinician, residential, ward):
    client.force_login(site_clinician)

    rows, response = _rows(client, residential)

    reserved = rows["201-A"]
    assert reserved.row.reserved and reserved.row.next_admission.patient == ward["held"].patient
    assert reserved.actions == []  # admitted through the reservation, not over it
    assert [label for label, _ in rows["201-B"].actions] == ["Admit"]
    page = response.content.decode()
    assert "<strong>Reserved</strong> for Nia Okafor from" in page
    assert response.context["summary"]["free"] == 1 and response.context["summary"]["reserved"] == 1
    # An occupied bed shows the reservation after its occupant as the next planned admission.
    busy = rows["202-A"].row
    assert not busy.reserved and busy.next_admission.patient == ward["after"].patient
    assert "Ode Later (reserved)" in page


def test_the_board_records_the_reserved_patients_it_showed(client, site_clinician, residential, ward):
    client.force_login(site_clinician)

    _rows(client, residential)

    shown = set(AuditEvent.objects.filter(user=site_clinician, detail="bed board").values_list("patient_id", flat=True))
    assert {ward["held"].patient_id, ward["after"].patient_id} <= shown
