"""The UR coordinator's worklists: the selectors, the dashboard's figures and the worklists they link to.
Today is Tuesday 16 March 2027."""

import pytest
from django.urls import reverse

from programs import services as journey
from tests.factories import BedFactory, PatientFactory
from tests.utilization.conftest import TODAY, admit, approve, day
from utilization import selectors
from utilization import services as ur

pytestmark = pytest.mark.django_db


@pytest.fixture
def jo(site, residential, blue, clinician):
    """Jo: in residential since Mar 1, authorized through Mar 18 (ending within 3 days), review due today."""
    jo = PatientFactory(legal_first_name="Jo", registered_site=site)
    coverage = ur.add_coverage(patient=jo, payer=blue, effective_on=day(1), member_id="J-1", created_by=clinician)
    stay = admit(jo, BedFactory(program=residential, label="301-A"), day(1), clinician)
    auth = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=residential.asam_level, requested_units=18,
        start_on=day(1), end_on=day(18), requested_by=clinician, requested_on=day(1),
    )  # fmt: skip
    return approve(auth, number="J-18", units=18, start=day(1), end=day(18), by=clinician, next_review_on=TODAY)


@pytest.fixture
def kim(site, residential, iop, blue, clinician):
    """Kim: residential from Mar 2, denied on Mar 13 (no appeal since), stepped down to IOP today without an
    IOP authorization: a denial to follow up and a "needs authorization" item."""
    kim = PatientFactory(legal_first_name="Kim", registered_site=site)
    coverage = ur.add_coverage(patient=kim, payer=blue, effective_on=day(1), member_id="K-1", created_by=clinician)
    stay = admit(kim, BedFactory(program=residential, label="302-A"), day(2), clinician)
    auth = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=residential.asam_level, requested_units=10,
        start_on=day(2), end_on=day(11), requested_by=clinician, requested_on=day(2),
    )  # fmt: skip
    ur.record_decision(authorization=auth, status="denied", decided_on=day(13), decided_by=clinician)
    return kim, stay, auth


def _numbers(queryset):
    return sorted(a.number or a.patient.legal_first_name for a in queryset)


def test_reviews_due_today_and_tomorrow(alex_journey, jo):
    # Alex's IOP review is due tomorrow (Mar 17), Jo's today.
    assert _numbers(selectors.reviews_due(on=TODAY)) == ["AUTH-I1", "J-18"]
    assert _numbers(selectors.reviews_due(on=day(15))) == ["J-18"]
    assert _numbers(selectors.reviews_due(on=day(14))) == []


def test_authorizations_ending_within_three_days_while_the_patient_is_still_in_that_level(jo, patient, clinician):
    assert _numbers(selectors.ending_soon(on=TODAY)) == ["J-18"]
    assert _numbers(selectors.ending_soon(on=day(14))) == []  # four days before the end
    journey.discharge(episode=jo.episode, on=TODAY, disposition="completed", decided_by=clinician)
    assert _numbers(selectors.ending_soon(on=TODAY)) == []  # no longer in that level


def test_days_in_care_not_covered(alex_journey, sam_self_pay, jo):
    uncovered = selectors.uncovered_days_by_placement(on=TODAY)
    # Alex's Mar 11 in residential; Sam pays himself (nothing to authorize); Jo is covered.
    assert uncovered == {alex_journey["stay"].pk: (1, day(11))}


def test_denials_without_an_appeal_or_a_decision_within_two_days(kim, clinician, iop):
    _, _, auth = kim
    assert list(selectors.denials_without_follow_up(on=TODAY)) == [auth]
    assert list(selectors.denials_without_follow_up(on=day(14))) == []  # one day after the denial
    ur.record_review(authorization=auth, reviewed_on=day(15), outcome="appealed", recorded_by=clinician)
    assert list(selectors.denials_without_follow_up(on=TODAY)) == []


def test_a_step_down_is_a_decision_on_a_denial_and_opens_a_needs_authorization_item(kim, iop, clinician):
    patient, stay, _ = kim
    assert list(selectors.needs_authorization(on=TODAY)) == []
    transition = journey.step_down(stay=stay, to_program=iop, on=TODAY, reason="Stable", decided_by=clinician)
    assert list(selectors.denials_without_follow_up(on=TODAY)) == []
    assert [p.pk for p in selectors.needs_authorization(on=TODAY)] == [transition.to_placement.pk]
    ur.request_authorization(
        episode=stay.episode, coverage=patient.coverages.get(), asam_level=iop.asam_level, requested_units=5,
        start_on=TODAY, end_on=day(31), requested_by=clinician,
    )  # fmt: skip
    assert list(selectors.needs_authorization(on=TODAY)) == []


def test_self_pay_needs_no_iop_authorization_after_a_step_down(sam_self_pay, iop, clinician):
    journey.step_down(stay=sam_self_pay, to_program=iop, on=TODAY, reason="Stable", decided_by=clinician)
    assert list(selectors.needs_authorization(on=TODAY)) == []


def test_the_dashboard_figures_equal_the_lists_they_link_to(client, ur_user, alex_journey, jo, kim, iop, clinician):
    journey.step_down(stay=kim[1], to_program=iop, on=day(14), reason="Stable", decided_by=clinician)
    client.force_login(ur_user)
    board = client.get(reverse("admin:index")).context["dashboard"]
    figures = {f.label: f for f in board.figures}
    expected = {
        "UR reviews due": 2,
        "Authorizations ending": 1,
        # Alex's Mar 11; Kim's denied residential days and her IOP days without an authorization
        "Levels of care with days not covered": 3,
        "Denials awaiting follow-up": 0,  # Kim stepped down after the denial: a decision was made
        "Stepped down, needs authorization": 1,
    }
    assert {label: figures[label].value for label in expected} == expected
    for label in expected:
        response = client.get(figures[label].url)
        assert response.status_code == 200
        assert "cl" not in response.context, label  # its own worklist (issue 12), not a stock list
        assert response.context["worklist"].counted == figures[label].value, label


def test_front_desk_sees_no_ur_figures(client, front_desk, alex_journey):
    client.force_login(front_desk)
    board = client.get(reverse("admin:index")).context["dashboard"]
    assert not [f for f in board.figures if "authoriz" in f.label.lower()]
