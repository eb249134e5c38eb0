"""The UR worklists the dashboard's five UR figures open (issue 12): the columns that decide, the step each
job needs (and only for a role that may take it), back to the list afterwards, the patients shown audited,
and a constant number of queries. Today is Tuesday 16 March 2027 (noon in New York)."""

import itertools

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from programs import services as journey
from tests.factories import BedFactory, PatientFactory
from tests.query_counts import assert_constant_queries
from tests.utilization.conftest import TODAY, admit, approve, day
from utilization import services as ur
from utilization.models import Authorization, ConcurrentReview

pytestmark = pytest.mark.django_db

_mrns = itertools.count(1)


def _url(which: str) -> str:
    return reverse("admin:utilization_worklist", args=[which])


def _in_residential(site, residential, blue, clinician, *, since: int, name: str = ""):
    """A patient covered by Blue Harbor, in residential since day ``since`` of March."""
    n = next(_mrns)
    patient = PatientFactory(mrn=f"UR-{n}", legal_first_name=name or f"Pat{n}", registered_site=site)
    coverage = ur.add_coverage(patient=patient, payer=blue, effective_on=day(1), member_id=f"M-{n}",
                               created_by=clinician)  # fmt: skip
    stay = admit(patient, BedFactory(program=residential, label=f"UR-{n}"), day(since), clinician)
    return patient, coverage, stay


def _authorized(site, residential, blue, clinician, *, through: int = 18, name: str = ""):
    """Authorized from Mar 1 through ``through``, the concurrent review due today."""
    patient, coverage, stay = _in_residential(site, residential, blue, clinician, since=1, name=name)
    auth = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=residential.asam_level, requested_units=through,
        start_on=day(1), end_on=day(through), requested_by=clinician, requested_on=day(1),
    )  # fmt: skip
    number = f"A-{patient.mrn}"
    return approve(auth, number=number, units=through, start=day(1), end=day(through), by=clinician,
                   next_review_on=TODAY)  # fmt: skip


def _denied(site, residential, blue, clinician, name: str = ""):
    _, coverage, stay = _in_residential(site, residential, blue, clinician, since=2, name=name)
    auth = ur.request_authorization(
        episode=stay.episode, coverage=coverage, asam_level=residential.asam_level, requested_units=10,
        start_on=day(2), end_on=day(11), requested_by=clinician, requested_on=day(2),
    )  # fmt: skip
    return ur.record_decision(authorization=auth, status="denied", decided_on=day(13), decided_by=clinician,
                              notes="Does not meet medical necessity for 3.5")  # fmt: skip


def _stepped_down(site, residential, iop, blue, clinician, name: str = ""):
    *_, stay = _in_residential(site, residential, blue, clinician, since=2, name=name)
    return journey.step_down(stay=stay, to_program=iop, on=day(14), reason="Stable", decided_by=clinician)


@pytest.fixture
def lists(site, residential, iop, blue, clinician):
    """One row on each list: Jo (review due today, ends Mar 18), Ken (in care since Mar 10, nothing
    requested), Kim (denied Mar 13), Lou (stepped down to IOP on Mar 14, no IOP authorization)."""
    return {
        "jo": _authorized(site, residential, blue, clinician, name="Jo"),
        "ken": _in_residential(site, residential, blue, clinician, since=10, name="Ken")[2],
        "kim": _denied(site, residential, blue, clinician, name="Kim"),
        "lou": _stepped_down(site, residential, iop, blue, clinician, name="Lou"),
    }


def _row(response, patient_name: str):
    rows = [row for row in response.context["worklist"].rows if row.patient.legal_first_name == patient_name]
    assert len(rows) == 1, [row.patient.legal_first_name for row in response.context["worklist"].rows]
    return rows[0]


def test_each_list_shows_what_decides_the_job_and_its_step(client, ur_user, lists):
    client.force_login(ur_user)

    due = _row(client.get(_url("reviews-due")), "Jo")
    assert due.cells == [
        f"A-{lists['jo'].patient.mrn} (ASAM 3.5) · Blue Harbor Health", "16 of 18 days, 2 left",
        "March 18, 2027 (in 2 days)", "March 16, 2027 (today)",
    ]  # fmt: skip
    assert [a.label for a in due.actions] == ["Record review"]
    assert due.program.name == "Residential 3.5"

    ending = _row(client.get(_url("ending")), "Jo")
    assert ending.cells[2] == "March 18, 2027 (in 2 days)"

    uncovered = _row(client.get(_url("days-not-covered")), "Ken")
    assert uncovered.cells == ["Blue Harbor Health", "7 days, from March 10, 2027", "none requested"]
    assert [a.label for a in uncovered.actions] == ["Request authorization"]

    denial = _row(client.get(_url("denials")), "Kim")
    assert denial.cells[1:] == ["March 13, 2027 (3 days ago)", "Does not meet medical necessity for 3.5"]
    assert [a.label for a in denial.actions] == ["Appeal or follow up"]

    needs = client.get(_url("needs-authorization"))
    row = _row(needs, "Lou")
    assert row.cells == ["Blue Harbor Health", "March 14, 2027 (2 days ago)", "Day 3"]
    assert row.program.name == "Evening IOP"
    assert "cl" not in needs.context and b'aria-current="page"' in needs.content


def test_a_pending_request_is_decided_from_the_days_not_covered_list(client, ur_user, lists, residential, clinician):
    ken = lists["ken"]
    pending = ur.request_authorization(
        episode=ken.episode, coverage=ken.patient.coverages.get(), asam_level=residential.asam_level,
        requested_units=7, start_on=day(10), end_on=day(16), requested_by=clinician, requested_on=day(15),
    )  # fmt: skip
    client.force_login(ur_user)
    back = _url("days-not-covered")
    row = _row(client.get(back), "Ken")
    assert row.cells[2] == "requested March 15, 2027, awaiting the payer"
    (action,) = row.actions
    assert action.label == "Record decision"
    assert action.url == reverse("admin:utilization_authorization_decision", args=[pending.pk]) + f"?next={back}"

    page = client.get(action.url)
    assert '<a href="/admin/utilization/authorization/worklist/days-not-covered/">Levels of care with days not ' \
           "covered</a>" in page.content.decode()  # fmt: skip
    response = client.post(action.url, {
        "status": "approved", "decided_on": "2027-03-16", "number": "K-7", "approved_units": 7,
        "start_on": "2027-03-10", "end_on": "2027-03-16",
    })  # fmt: skip
    assert response.status_code == 302 and response.url == back
    assert all(r.patient.legal_first_name != "Ken" for r in client.get(back).context["worklist"].rows)


def test_record_a_review_and_come_back_to_the_list(client, ur_user, lists):
    client.force_login(ur_user)
    back = _url("reviews-due")
    (action,) = _row(client.get(back), "Jo").actions

    response = client.post(action.url, {
        "reviewed_on": "2027-03-16", "outcome": "approved_more", "units_added": 7, "new_end_on": "2027-03-25",
        "next_review_on": "2027-03-22",
    })  # fmt: skip

    assert response.status_code == 302 and response.url == back
    assert ConcurrentReview.objects.get(authorization=lists["jo"]).units_added == 7
    assert all(r.patient.legal_first_name != "Jo" for r in client.get(back).context["worklist"].rows)


def test_an_appeal_starts_from_the_denial_with_its_outcome_chosen(client, ur_user, lists):
    client.force_login(ur_user)
    back = _url("denials")
    (action,) = _row(client.get(back), "Kim").actions

    form = client.get(action.url).context["form"]
    assert form.initial["outcome"] == "appealed" and form.initial["reviewed_on"] == TODAY
    response = client.post(action.url, {"reviewed_on": "2027-03-16", "outcome": "appealed", "units_added": 0})

    assert response.status_code == 302 and response.url == back
    assert client.get(back).context["worklist"].rows == []


def test_request_an_authorization_from_the_needs_authorization_list_filled_in(client, ur_user, lists, iop):
    client.force_login(ur_user)
    back = _url("needs-authorization")
    (action,) = _row(client.get(back), "Lou").actions
    episode = lists["lou"].episode

    form = client.get(action.url).context["form"]
    assert {key: str(form.initial[key]) for key in ("episode", "asam_level", "start_on")} == {
        "episode": str(episode.pk), "asam_level": iop.asam_level, "start_on": "2027-03-14",
    }  # fmt: skip
    response = client.post(action.url, {
        "episode": episode.pk, "coverage": form.initial["coverage"], "asam_level": iop.asam_level,
        "unit_kind": "sessions", "requested_units": 12, "start_on": "2027-03-14", "end_on": "2027-03-31",
    })  # fmt: skip

    assert response.status_code == 302 and response.url == back
    assert Authorization.objects.get(episode=episode, asam_level=iop.asam_level).status == "requested"
    assert client.get(back).context["worklist"].rows == []


def test_front_desk_reads_the_lists_without_steps_or_the_payers_reasons(client, front_desk, lists):
    client.force_login(front_desk)
    for which in ("reviews-due", "ending", "days-not-covered", "denials", "needs-authorization"):
        response = client.get(_url(which))
        assert response.status_code == 200 and response.context["worklist"].rows, which
        assert all(not row.actions for row in response.context["worklist"].rows), which
    denial = _row(client.get(_url("denials")), "Kim")
    assert denial.cells[2] == "—" and b"medical necessity" not in client.get(_url("denials")).content
    jo = lists["jo"]
    assert client.get(reverse("admin:utilization_authorization_review", args=[jo.pk])).status_code == 403
    assert client.get(reverse("admin:utilization_authorization_add")).status_code == 403


def test_a_patient_elsewhere_is_not_listed_and_nobody_without_the_permission_reads_the_lists(
    client, colleague_elsewhere, lists
):
    client.force_login(colleague_elsewhere)
    for which in ("reviews-due", "days-not-covered", "denials", "needs-authorization"):
        assert client.get(_url(which)).context["worklist"].rows == [], which
    assert client.get(_url("nonsense")).status_code == 404
    client.logout()
    assert client.get(_url("reviews-due")).status_code == 302  # to the login page


def test_the_patients_shown_are_audited(client, ur_user, lists):
    client.force_login(ur_user)
    client.get(_url("denials"))
    event = AuditEvent.objects.filter(username="uma.ur", detail="worklist ur-denials").get()
    assert (event.category, event.action, event.patient_id) == ("payer", "view", lists["kim"].patient_id)


@pytest.mark.parametrize("which", ["reviews-due", "ending", "days-not-covered", "denials", "needs-authorization"])
def test_queries_do_not_grow_with_the_rows(client, ur_user, which, site, residential, iop, blue, clinician):
    make = {
        "reviews-due": lambda: _authorized(site, residential, blue, clinician),
        "ending": lambda: _authorized(site, residential, blue, clinician),
        "days-not-covered": lambda: _in_residential(site, residential, blue, clinician, since=10),
        "denials": lambda: _denied(site, residential, blue, clinician),
        "needs-authorization": lambda: _stepped_down(site, residential, iop, blue, clinician),
    }[which]
    client.force_login(ur_user)
    assert_constant_queries(client, _url(which), lambda n: [make() for _ in range(n)], small=2, big=6)
