"""Who gets what, for every /api/v1/ endpoint, generated from the URL conf.

``CASES`` names every endpoint and method; a new endpoint without a case fails
``test_every_endpoint_has_a_case``. For each case the wrong people get nothing:
an anonymous caller (401), a patient on staff endpoints (403), another patient on
a patient's own records (404), a clinician of another site (404, or an empty
list), front desk on clinical actions and clinical lists (403).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from django.db.models import Max
from drf_spectacular.generators import EndpointEnumerator

from clinic.access import Role
from clinic.models import AuditAction, AuditEvent, SiteMembership
from tests.factories import PatientFactory, UserFactory, staff_member

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Case:
    audience: str  # "me" (the patient app) or "staff"
    target: str = ""  # the world attribute whose public id fills {id}
    body: str = ""  # the name of a body builder below
    clinical: bool = False  # front desk may not (a clinical action or a clinical list)
    admin_only: bool = False  # program admins (and superusers) only
    who: str = ""  # for the patient app: "discharged" acts as the patient in aftercare, else the world's patient
    ur: bool = False  # utilization review work: the UR coordinator may (and clinicians, program admins)
    reference: bool = False  # reference data the same at every site (payers): no site scoping


def _day(days: int = 0) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


BODIES = {
    "register": lambda w: {
        "mrn": "MRN-NEW-1",
        "registered_site": str(w.site.public_id),
        "legal_first_name": "Nia",
        "legal_last_name": "Okafor",
        "date_of_birth": "1990-02-03",
    },
    "patch_patient": lambda w: {"preferred_name": "Al"},
    "admit": lambda w: {"patient": str(w.newcomer.public_id), "bed": str(w.free_bed.public_id), "admitted_on": _day()},
    "enroll": lambda w: {"patient": str(w.newcomer.public_id), "program": str(w.iop.public_id), "start_on": _day()},
    "extend": lambda w: {"new_planned_discharge_on": _day(40), "reason": "Needs longer"},
    "step_down": lambda w: {"to_program": str(w.iop.public_id), "on": _day(), "reason": "Stable"},
    "step_up": lambda w: {"bed": str(w.free_bed.public_id), "on": _day(), "reason": "Relapse"},
    "discharge": lambda w: {"on": _day(), "disposition": "completed"},
    "reason": lambda w: {"reason": "Recorded in error"},
    "series": lambda w: {
        "program": str(w.iop.public_id),
        "kind": "psychoeducation",
        "rule": "FREQ=WEEKLY;BYDAY=TU",
        "start_time": "10:00",
        "duration_minutes": 60,
        "capacity": 10,
        "starts_on": _day(7),
    },
    "move": lambda w: {"starts_at": f"{_day(2)}T15:00:00Z"},
    "attendance": lambda w: {"marks": [{"patient": str(w.patient.public_id), "attendance": "present"}]},
    "book": lambda w: {"session": str(w.one_off_session.public_id), "patient": str(w.patient.public_id)},
    "response": lambda w: {"response": "confirmed"},
    "none": lambda w: {},
    "device": lambda w: {"token": "fcm-token-" + "b" * 40, "platform": "ios"},
    "answer": lambda w: {"mood": 4, "text": "Doing all right", "needs_help": False},
    "resolve": lambda w: {"note": "Called; back next week"},
    # Utilization review (issue 15)
    "coverage": lambda w: {
        "patient": str(w.newcomer.public_id),
        "payer": str(w.payer.public_id),
        "member_id": "BH-9",
        "effective_on": _day(),
    },
    "request_auth": lambda w: {
        "episode": str(w.episode.public_id),
        "coverage": str(w.coverage.public_id),
        "asam_level": w.iop.asam_level,
        "requested_units": 5,
        "start_on": _day(31),
        "end_on": _day(40),
    },
    "decision": lambda w: {
        "status": "approved",
        "decided_on": _day(),
        "number": "W-RES-1",
        "approved_units": 35,
        "start_on": _day(-40),
        "end_on": _day(-6),
    },
    "review": lambda w: {"reviewed_on": _day(), "outcome": "approved_more", "units_added": 5, "new_end_on": _day(40)},
    # Admissions (issue 14)
    "referral": lambda w: {
        "program": str(w.residential.public_id),
        "source": "hospital",
        "referred_on": _day(-1),
        "first_name": "Ola",
        "last_name": "Nordmann",
        "date_of_birth": "1984-04-04",
    },
    "accept": lambda w: {"reason": "Meets criteria", "mrn": "MRN-REF-9", "confirm_new_person": True},
    "close": lambda w: {"status": "withdrawn", "reason": "Moved away"},
    "priority": lambda w: {"priority": 1, "reason": "Urgent"},
    "reserve": lambda w: {
        "referral": str(w.waitlisted.public_id),
        "bed": str(w.free_bed.public_id),
        "start_on": _day(1),
        "expires_at": f"{_day(2)}T22:00:00Z",
    },
}

CASES: dict[tuple[str, str], Case] = {
    # The patient app
    ("GET", "/api/v1/me/"): Case("me"),
    ("PATCH", "/api/v1/me/"): Case("me", body="patch_patient"),
    ("GET", "/api/v1/me/preferences/"): Case("me"),
    ("PATCH", "/api/v1/me/preferences/"): Case("me", body="none"),
    ("GET", "/api/v1/me/care/"): Case("me"),
    ("GET", "/api/v1/me/sessions/"): Case("me"),
    ("GET", "/api/v1/me/sessions/{id}/"): Case("me", "booking"),
    ("POST", "/api/v1/me/sessions/{id}/response/"): Case("me", "booking", body="response"),
    ("GET", "/api/v1/me/aftercare/"): Case("me", who="discharged"),
    ("GET", "/api/v1/me/aftercare/checkins/{id}/"): Case("me", "checkin", who="discharged"),
    ("POST", "/api/v1/me/aftercare/checkins/{id}/answer/"): Case("me", "checkin", body="answer", who="discharged"),
    ("GET", "/api/v1/me/devices/"): Case("me"),
    ("POST", "/api/v1/me/devices/"): Case("me", body="device"),
    ("DELETE", "/api/v1/me/devices/{id}/"): Case("me", "device"),
    ("GET", "/api/v1/me/calendar-feed/"): Case("me"),
    ("POST", "/api/v1/me/calendar-feed/"): Case("me", body="none"),
    ("DELETE", "/api/v1/me/calendar-feed/"): Case("me"),
    ("GET", "/api/v1/me/record/"): Case("me"),
    # Staff: patients
    ("GET", "/api/v1/patients/"): Case("staff"),
    ("POST", "/api/v1/patients/"): Case("staff", body="register"),
    ("GET", "/api/v1/patients/{id}/"): Case("staff", "patient"),
    ("PATCH", "/api/v1/patients/{id}/"): Case("staff", "patient", body="patch_patient"),
    ("GET", "/api/v1/patients/{id}/access-report/"): Case("staff", "patient", admin_only=True),
    # Staff: the patient's app access (issue 13)
    ("POST", "/api/v1/patients/{id}/invitations/"): Case("staff", "patient", body="none"),
    ("GET", "/api/v1/patients/{id}/app-access/"): Case("staff", "patient"),
    ("DELETE", "/api/v1/patients/{id}/app-access/"): Case("staff", "patient"),
    # Staff: the care journey
    ("GET", "/api/v1/programs/"): Case("staff"),
    ("GET", "/api/v1/programs/{id}/"): Case("staff", "iop"),
    ("GET", "/api/v1/beds/"): Case("staff"),
    ("GET", "/api/v1/episodes/"): Case("staff"),
    ("GET", "/api/v1/episodes/{id}/"): Case("staff", "episode"),
    ("POST", "/api/v1/episodes/{id}/discharge/"): Case("staff", "episode", body="discharge", clinical=True),
    ("GET", "/api/v1/residential-stays/"): Case("staff"),
    ("POST", "/api/v1/residential-stays/"): Case("staff", body="admit", clinical=True),
    ("GET", "/api/v1/residential-stays/{id}/"): Case("staff", "stay"),
    ("POST", "/api/v1/residential-stays/{id}/extend/"): Case("staff", "stay", body="extend", clinical=True),
    ("POST", "/api/v1/residential-stays/{id}/step-down/"): Case("staff", "stay", body="step_down", clinical=True),
    ("GET", "/api/v1/iop-enrollments/"): Case("staff"),
    ("POST", "/api/v1/iop-enrollments/"): Case("staff", body="enroll", clinical=True),
    ("GET", "/api/v1/iop-enrollments/{id}/"): Case("staff", "enrollment"),
    ("POST", "/api/v1/iop-enrollments/{id}/step-up/"): Case("staff", "enrollment", body="step_up", clinical=True),
    ("GET", "/api/v1/transitions/"): Case("staff", clinical=True),
    ("POST", "/api/v1/transitions/{id}/reverse/"): Case("staff", "transition", body="reason", clinical=True),
    ("GET", "/api/v1/discharges/"): Case("staff", clinical=True),
    ("POST", "/api/v1/discharges/{id}/reverse/"): Case("staff", "discharge", body="reason", clinical=True),
    # Staff: schedules
    ("GET", "/api/v1/session-series/"): Case("staff"),
    ("POST", "/api/v1/session-series/"): Case("staff", body="series", admin_only=True),
    ("GET", "/api/v1/session-series/{id}/"): Case("staff", "series"),
    ("GET", "/api/v1/sessions/"): Case("staff"),
    ("GET", "/api/v1/sessions/{id}/"): Case("staff", "session"),
    ("POST", "/api/v1/sessions/{id}/cancel/"): Case("staff", "session", body="reason", clinical=True),
    ("POST", "/api/v1/sessions/{id}/move/"): Case("staff", "session", body="move", clinical=True),
    ("POST", "/api/v1/sessions/{id}/attendance/"): Case("staff", "past_session", body="attendance", clinical=True),
    ("GET", "/api/v1/bookings/"): Case("staff"),
    ("POST", "/api/v1/bookings/"): Case("staff", body="book"),
    ("POST", "/api/v1/bookings/{id}/cancel/"): Case("staff", "booking", body="none"),
    ("GET", "/api/v1/compliance/below-minimum/"): Case("staff"),
    ("GET", "/api/v1/compliance/consecutive-absences/"): Case("staff"),
    ("GET", "/api/v1/reminders/"): Case("staff"),
    ("GET", "/api/v1/reminders/{id}/"): Case("staff", "reminder"),
    ("GET", "/api/v1/follow-ups/"): Case("staff", clinical=True),
    ("GET", "/api/v1/follow-ups/{id}/"): Case("staff", "follow_up", clinical=True),
    ("POST", "/api/v1/follow-ups/{id}/resolve/"): Case("staff", "follow_up", body="resolve", clinical=True),
    # Staff: utilization review (issue 15). Front desk enters coverage and sees authorizations (without notes).
    ("GET", "/api/v1/payers/"): Case("staff", reference=True),
    ("GET", "/api/v1/coverages/"): Case("staff", ur=True),
    ("POST", "/api/v1/coverages/"): Case("staff", body="coverage", ur=True),
    ("GET", "/api/v1/coverages/{id}/"): Case("staff", "coverage", ur=True),
    ("GET", "/api/v1/authorizations/"): Case("staff", ur=True),
    ("POST", "/api/v1/authorizations/"): Case("staff", body="request_auth", clinical=True, ur=True),
    ("GET", "/api/v1/authorizations/{id}/"): Case("staff", "authorization", ur=True),
    ("POST", "/api/v1/authorizations/{id}/decision/"): Case(
        "staff", "requested_authorization", body="decision", clinical=True, ur=True
    ),
    ("POST", "/api/v1/authorizations/{id}/reviews/"): Case(
        "staff", "authorization", body="review", clinical=True, ur=True
    ),
    ("GET", "/api/v1/utilization/episodes/{id}/"): Case("staff", "episode", ur=True),
    ("GET", "/api/v1/utilization/worklist/"): Case("staff", clinical=True, ur=True),
    ("GET", "/api/v1/billable-units/"): Case("staff", clinical=True, ur=True),
    # Staff: admissions (issue 14)
    ("GET", "/api/v1/referrals/"): Case("staff"),
    ("POST", "/api/v1/referrals/"): Case("staff", body="referral"),
    ("GET", "/api/v1/referrals/{id}/"): Case("staff", "referral"),
    ("POST", "/api/v1/referrals/{id}/screen/"): Case("staff", "referral", body="none", clinical=True),
    ("POST", "/api/v1/referrals/{id}/accept/"): Case("staff", "screening_referral", body="accept", clinical=True),
    ("POST", "/api/v1/referrals/{id}/close/"): Case("staff", "referral", body="close", clinical=True),
    ("POST", "/api/v1/referrals/{id}/priority/"): Case("staff", "waitlisted", body="priority", clinical=True),
    ("GET", "/api/v1/waitlist/"): Case("staff"),
    ("GET", "/api/v1/reservations/"): Case("staff"),
    ("POST", "/api/v1/reservations/"): Case("staff", body="reserve"),
    ("GET", "/api/v1/reservations/{id}/"): Case("staff", "reservation"),
    ("POST", "/api/v1/reservations/{id}/admit/"): Case("staff", "reservation", body="none", clinical=True),
    ("POST", "/api/v1/reservations/{id}/cancel/"): Case("staff", "reservation", body="reason"),
    ("GET", "/api/v1/programs/{id}/census/"): Case("staff", "residential"),
    ("GET", "/api/v1/sites/{id}/census/"): Case("staff", "site"),
    ("GET", "/api/v1/census/"): Case("staff"),
}

# Public by design (the token endpoints) and tested in test_conventions.
PUBLIC = {"/api/v1/auth/token/", "/api/v1/auth/token/refresh/", "/api/v1/auth/logout/"}
# The patient app's codes (issue 13): public by design too, tested in tests/accounts/.
PUBLIC |= {"/api/v1/auth/activate/", "/api/v1/auth/password-reset/", "/api/v1/auth/password-reset/confirm/"}


@pytest.fixture(autouse=True)
def _messages_stay_in_memory(settings):
    # An invitation sends a text and an e-mail; here they go nowhere but a list.
    from reminders.channels import _backend

    settings.REMINDERS_SMS_BACKEND = settings.REMINDERS_EMAIL_BACKEND = "reminders.channels.console.LocmemChannel"
    _backend.cache_clear()
    yield
    _backend.cache_clear()


def _endpoints() -> set[tuple[str, str]]:
    found = set()
    for path, _regex, method, _view in EndpointEnumerator().get_api_endpoints():
        if path.startswith("/api/v1/") and path not in PUBLIC:
            found.add((method.upper(), path))
    return found


def test_every_endpoint_has_a_case():
    endpoints = _endpoints()
    missing = sorted(endpoints - set(CASES))
    assert not missing, f"Endpoints without a permission case: {missing}"
    assert not sorted(set(CASES) - endpoints), "Cases for endpoints that no longer exist"


def _call(api, method: str, path: str, case: Case, world, *, if_match: str = '"x"'):
    url = path.replace("{id}", str(getattr(world, case.target).public_id)) if case.target else path
    body = BODIES[case.body](world) if case.body else None
    data = None if body is None else json.dumps(body)
    return api.generic(method, url, data=data, content_type="application/json", HTTP_IF_MATCH=if_match)


PARAMS = sorted(CASES)

# The exact answer to the right person: 200 for reads and updates, 201 for a create (a discharge, a
# transition, a reversal and a review create their record), 204 for a delete, and 200 for the actions
# below, which change a record rather than create one (revoking app access answers with the account).
ACTIONS_ANSWERING_200 = {
    ("DELETE", "/api/v1/patients/{id}/app-access/"),
    ("POST", "/api/v1/me/sessions/{id}/response/"),
    ("POST", "/api/v1/me/aftercare/checkins/{id}/answer/"),
    ("POST", "/api/v1/residential-stays/{id}/extend/"),
    ("POST", "/api/v1/sessions/{id}/cancel/"),
    ("POST", "/api/v1/sessions/{id}/move/"),
    ("POST", "/api/v1/sessions/{id}/attendance/"),
    ("POST", "/api/v1/bookings/{id}/cancel/"),
    ("POST", "/api/v1/follow-ups/{id}/resolve/"),
    ("POST", "/api/v1/authorizations/{id}/decision/"),
    ("POST", "/api/v1/referrals/{id}/screen/"),
    ("POST", "/api/v1/referrals/{id}/accept/"),
    ("POST", "/api/v1/referrals/{id}/close/"),
    ("POST", "/api/v1/referrals/{id}/priority/"),
    ("POST", "/api/v1/reservations/{id}/admit/"),
    ("POST", "/api/v1/reservations/{id}/cancel/"),
}


def success_status(method: str, path: str) -> int:
    if (method, path) in ACTIONS_ANSWERING_200:
        return 200
    return {"POST": 201, "DELETE": 204}.get(method, 200)


def method_is_write(case_key: tuple[str, str]) -> bool:
    return case_key[0] != "GET"


@pytest.mark.parametrize(("method", "path"), PARAMS)
def test_an_anonymous_caller_gets_401(api, world, method, path):
    response = _call(api, method, path, CASES[(method, path)], world)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize(("method", "path"), [p for p in PARAMS if CASES[p].audience == "staff"])
def test_a_patient_cannot_reach_staff_endpoints(api, world, patient_user, method, path):
    api.force_authenticate(patient_user)
    response = _call(api, method, path, CASES[(method, path)], world)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path"), [p for p in PARAMS if CASES[p].audience == "me"])
def test_staff_cannot_use_the_patient_app(api, world, site_clinician, method, path):
    api.force_authenticate(site_clinician)
    assert _call(api, method, path, CASES[(method, path)], world).status_code == 403


@pytest.mark.parametrize(("method", "path"), [p for p in PARAMS if CASES[p].audience == "me" and CASES[p].target])
def test_another_patient_gets_404_for_a_patients_own_records(api, world, method, path):
    stranger = PatientFactory(user=UserFactory(username="someone.else", is_staff=False))
    api.force_authenticate(stranger.user)
    response = _call(api, method, path, CASES[(method, path)], world)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("method", "path"), [p for p in PARAMS if CASES[p].audience == "staff"])
def test_staff_of_another_site_get_nothing(api, world, colleague_elsewhere, method, path):
    """A clinician at Lakeview: 404 for Riverside's records, empty lists, foreign ids refused."""
    api.force_authenticate(colleague_elsewhere)
    case = CASES[(method, path)]
    response = _call(api, method, path, case, world)
    if case.admin_only:
        assert response.status_code == 403
    elif case.target:
        assert response.status_code == 404
    elif method == "GET" and case.reference:
        assert response.status_code == 200
    elif method == "GET":
        assert response.status_code == 200 and response.json()["results"] == []
    else:  # a create naming Riverside's patient, bed, program or session: those ids do not exist for them
        assert response.status_code == 400
        fields = {"patient", "bed", "program", "session", "registered_site", "episode", "coverage"}
        assert set(response.json()["error"]["fields"]) & fields


@pytest.mark.parametrize(("method", "path"), [p for p in PARAMS if CASES[p].clinical or CASES[p].admin_only])
def test_front_desk_cannot_take_clinical_actions(api, world, front_desk, method, path):
    api.force_authenticate(front_desk)
    assert _call(api, method, path, CASES[(method, path)], world).status_code == 403


def _as_the_right_client(api, user, method: str, path: str, case: Case, world):
    """The request as a real client makes it: an update carries the ETag its caller just read."""
    api.force_authenticate(user)
    if_match = '"x"'
    if method == "PATCH":  # (one who may not read the record has no ETag to send)
        if_match = _call(api, "GET", path, Case(case.audience, case.target), world).get("ETag", if_match)
    return _call(api, method, path, case, world, if_match=if_match)


@pytest.mark.parametrize(
    ("method", "path"),
    [p for p in PARAMS if CASES[p].audience == "staff" and not CASES[p].clinical and not CASES[p].admin_only],
)
def test_front_desk_may_use_the_rest(api, world, front_desk, patient_user, method, path):
    response = _as_the_right_client(api, front_desk, method, path, CASES[(method, path)], world)
    assert response.status_code == success_status(method, path), response.content


# --- The personas the matrix lacked (issue 18): every staff endpoint, an exact status each --------------


STAFF = [p for p in PARAMS if CASES[p].audience == "staff"]


@pytest.fixture
def program_admin_elsewhere(other_site):
    return staff_member(role=Role.PROGRAM_ADMIN, sites=[other_site], username="ines.lakeviewadmin")


@pytest.fixture
def front_desk_elsewhere(other_site):
    return staff_member(role=Role.FRONT_DESK, sites=[other_site], username="theo.lakeviewdesk")


@pytest.fixture
def staff_without_a_role(site):
    """A login made for a new hire, at Riverside, before anyone gave it a role."""
    user = UserFactory(username="new.hire", is_staff=True)
    SiteMembership.objects.create(user=user, site=site)
    return user


def _elsewhere_status(method: str, case: Case) -> int:
    """What staff of another site get when their role allows the action: nothing of Riverside's."""
    if case.target:
        return 404
    if method == "GET":
        return 200  # an empty list (checked by the callers), or the payers, the same everywhere
    return 400  # a create naming Riverside's patient, bed, program or session: no such id for them


@pytest.mark.parametrize(("method", "path"), STAFF)
def test_a_program_admin_of_another_site_gets_nothing_of_this_one(api, world, program_admin_elsewhere, method, path):
    case = CASES[(method, path)]
    response = _as_the_right_client(api, program_admin_elsewhere, method, path, case, world)
    assert response.status_code == _elsewhere_status(method, case), response.content
    if method == "GET" and not case.target and not case.reference:
        assert response.json()["results"] == []


@pytest.mark.parametrize(("method", "path"), STAFF)
def test_front_desk_of_another_site_gets_nothing_of_this_one(api, world, front_desk_elsewhere, method, path):
    case = CASES[(method, path)]
    response = _as_the_right_client(api, front_desk_elsewhere, method, path, case, world)
    expected = 403 if case.clinical or case.admin_only else _elsewhere_status(method, case)
    assert response.status_code == expected, response.content
    if expected == 200 and not case.reference:
        assert response.json()["results"] == []


@pytest.mark.parametrize(("method", "path"), STAFF)
def test_a_superuser_may_do_everything(api, world, superuser, patient_user, method, path):
    """(``patient_user``: the world's patient has an app login, for the app-access endpoints to revoke.)"""
    response = _as_the_right_client(api, superuser, method, path, CASES[(method, path)], world)
    assert response.status_code == success_status(method, path), response.content


@pytest.mark.parametrize(("method", "path"), STAFF)
def test_a_staff_login_without_a_role_gets_nothing(api, world, staff_without_a_role, method, path):
    response = _as_the_right_client(api, staff_without_a_role, method, path, CASES[(method, path)], world)
    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(("method", "path"), PARAMS)
def test_the_right_person_succeeds(
    api, world, site_clinician, program_admin, patient_user, other_patient_user, method, path
):
    """So the refusals above are about who is asking, not about a broken request."""
    case = CASES[(method, path)]
    if case.audience == "me":
        user = other_patient_user if case.who == "discharged" else patient_user
    else:
        user = program_admin if case.admin_only else site_clinician
    api.force_authenticate(user)
    if_match = '"x"'
    if method == "PATCH":
        # An update carries the ETag its caller just read, as a real client does.
        if_match = _call(api, "GET", path, Case(case.audience, case.target), world)["ETag"]
    response = _call(api, method, path, case, world, if_match=if_match)
    assert response.status_code == success_status(method, path), response.content


# --- Utilization review (issue 15): the UR coordinator ------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [p for p in PARAMS if CASES[p].ur])
def test_the_ur_coordinator_does_the_ur_work(api, world, ur_coordinator, method, path):
    api.force_authenticate(ur_coordinator)
    response = _call(api, method, path, CASES[(method, path)], world)
    assert response.status_code < 400, response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [p for p in PARAMS if CASES[p].audience == "staff" and method_is_write(p) and not CASES[p].ur],
)
def test_the_ur_coordinator_cannot_take_attendance_or_change_the_care_journey(api, world, ur_coordinator, method, path):
    api.force_authenticate(ur_coordinator)
    assert _call(api, method, path, CASES[(method, path)], world).status_code == 403


# --- An audit row for every staff write (issue 18), generated from the same cases ------------------------


# A session series is a schedule, not patient data: creating one is not in the trail.
NOT_PATIENT_DATA = {("POST", "/api/v1/session-series/")}
# A referral names a person who is not (yet) a patient: its rows carry no patient.
NOT_YET_A_PATIENT = {
    ("POST", "/api/v1/referrals/"),
    ("POST", "/api/v1/referrals/{id}/screen/"),
    ("POST", "/api/v1/referrals/{id}/close/"),
}
WRITES = [p for p in STAFF if method_is_write(p) and p not in NOT_PATIENT_DATA]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_every_staff_write_leaves_an_audit_row(api, world, site_clinician, program_admin, patient_user, method, path):
    case = CASES[(method, path)]
    user = program_admin if case.admin_only else site_clinician
    before = AuditEvent.objects.aggregate(last=Max("id"))["last"] or 0
    response = _as_the_right_client(api, user, method, path, case, world)
    assert response.status_code == success_status(method, path), response.content
    rows = list(AuditEvent.objects.filter(id__gt=before).exclude(action=AuditAction.VIEW))
    assert rows, f"{method} {path} changed data without an audit row"
    assert {(r.user_id, r.username) for r in rows} == {(user.pk, user.username)}
    assert {r.action for r in rows} <= {AuditAction.CREATE, AuditAction.CHANGE, AuditAction.DELETE}
    if (method, path) not in NOT_YET_A_PATIENT:
        assert all(r.patient_id for r in rows), f"{method} {path}: an audit row names no patient"
