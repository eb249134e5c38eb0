"""The billable-units export over a small clinic where every row is worked out by hand.

Alex (Blue Harbor): residential Mar 8-11 (stepped down on Mar 12, the step-down day is IOP's),
IOP from Mar 12 with 180 minutes on Mar 12, 120 on Mar 15 (too few), 180 on Mar 16.
Residential authorized Mar 8-10, IOP Mar 12-31. Sam (self-pay): residential from Mar 14.
"""

import datetime as dt

import pytest
from django.db import IntegrityError

from programs.models import Placement
from tests.utilization.conftest import day
from utilization import selectors
from utilization.errors import ExportRangeTooLong

pytestmark = pytest.mark.django_db


def _rows(**kwargs):
    return [
        (r.mrn, r.day, r.revenue_code, r.hcpcs_code, r.attended_minutes, r.payer, r.authorization)
        for r in selectors.billable_units(**kwargs)
    ]


def test_every_row_matches_the_hand_computed_export(alex_journey, sam_self_pay, patient, blue):
    mrn = patient.mrn
    assert _rows(start=day(8), end=day(16), payer=blue) == [
        (mrn, day(8), "1002", "H0019", None, "Blue Harbor Health", "AUTH-R1"),
        (mrn, day(9), "1002", "H0019", None, "Blue Harbor Health", "AUTH-R1"),
        (mrn, day(10), "1002", "H0019", None, "Blue Harbor Health", "AUTH-R1"),
        (mrn, day(11), "1002", "H0019", None, "Blue Harbor Health", "not covered"),
        # Mar 12: the step-down day is billed once, in IOP. Mar 15: 120 minutes, not billable.
        (mrn, day(12), "0905", "S9480", 180, "Blue Harbor Health", "AUTH-I1"),
        (mrn, day(16), "0905", "S9480", 180, "Blue Harbor Health", "AUTH-I1"),
    ]


def test_the_payer_and_the_dates_select_the_rows(alex_journey, sam_self_pay, other_patient, self_pay):
    sam = other_patient.mrn
    assert _rows(start=day(15), end=day(16), payer=self_pay) == [
        (sam, day(15), "1002", "H0019", None, "Self-pay", "not covered"),
        (sam, day(16), "1002", "H0019", None, "Self-pay", "not covered"),
    ]
    # Every payer, one day: Alex's IOP day (120 minutes on the 15th) is not there, Sam's bed day is.
    assert [r[0] for r in _rows(start=day(15), end=day(15))] == [sam]


def test_a_day_with_too_few_minutes_becomes_billable_at_the_programs_threshold(alex_journey, patient, iop, blue):
    iop.billing.iop_billable_minutes = 120
    iop.billing.save()
    assert [r[1] for r in _rows(start=day(15), end=day(15), payer=blue)] == [day(15)]


def test_nothing_is_billed_twice_one_level_of_care_a_day(alex_journey, patient, iop, blue, clinician):
    rows = _rows(start=day(1), end=day(31), payer=blue)
    assert len({(r[0], r[1]) for r in rows}) == len(rows)
    # The rule behind it: a second level of care on a billed day is refused by PostgreSQL.
    stay = alex_journey["stay"]
    with pytest.raises(IntegrityError):
        Placement.objects.create(
            kind="iop", episode=stay.episode, patient=patient, program=iop, start_on=day(10), ended_on=day(11),
            end_reason="discharged",
        )  # fmt: skip


def test_an_export_over_366_days_is_refused(db):
    with pytest.raises(ExportRangeTooLong):
        list(selectors.billable_units(start=dt.date(2026, 1, 1), end=dt.date(2027, 1, 2)))
    with pytest.raises(ExportRangeTooLong):
        list(selectors.billable_units(start=day(10), end=day(9)))
    assert list(selectors.billable_units(start=dt.date(2026, 1, 1), end=dt.date(2027, 1, 1))) == []


def test_the_admin_streams_the_csv(client, alex_journey, ur_user, blue, patient):
    client.force_login(ur_user)
    url = "/admin/utilization/authorization/export/"
    response = client.get(url, {"payer": blue.pk, "date_from": "2027-03-08", "date_to": "2027-03-16"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0].startswith("patient_id,mrn,service_date,program")
    assert len(lines) == 1 + 6
    assert lines[4].split(",")[2:] == [
        "2027-03-11", "Residential 3.5", "3.5", "1002", "H0019", "1", "", "Blue Harbor Health", "BH-1001",
        "not covered",
    ]  # fmt: skip
    too_long = client.get(url, {"date_from": "2026-01-01", "date_to": "2027-03-16"})
    assert too_long.status_code == 200 and b"at most 366 days" in too_long.content


def test_front_desk_cannot_export(client, front_desk):
    client.force_login(front_desk)
    assert client.get("/admin/utilization/authorization/export/").status_code == 403
