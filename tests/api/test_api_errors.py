"""Issue 11, defects 5, 10 and 12: errors a person can act on, date-times that never reach SQL unchecked,
and a schema that says exactly what the API answers."""

from __future__ import annotations

import datetime as dt
import uuid

import django_filters
import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from clinic import localtime
from clinic.api.fields import OptionalChoiceField
from clinic.api.serializers import ScopedRelatedField
from clinic.api.strict import BoundedIsoDateTimeFilter, StrictInputMixin
from programs.models import Placement
from scheduling import services as schedule
from scheduling.errors import InvalidSchedule
from scheduling.models import Booking, SessionSeries
from tests.factories import BedFactory, ProgramFactory

pytestmark = pytest.mark.django_db

SESSION_EXPIRED = "Your session has expired; sign in again."


@pytest.fixture
def as_clinician(api, site_clinician):
    api.force_authenticate(site_clinician)
    return api


def _fields(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    return response.json()["error"]["fields"]


def _admit(api, world, **changes):
    body = {"patient": str(world.newcomer.public_id), "bed": str(world.free_bed.public_id), **changes}
    return api.post("/api/v1/residential-stays/", body, format="json")


# --- defect 5: messages a person can act on ---------------------------------------------------------


def test_an_unknown_or_unreachable_record_is_named_by_its_kind(as_clinician, world, today, other_site):
    elsewhere = BedFactory(program=ProgramFactory(site=other_site), label="900-A")
    for bed in (uuid.uuid4(), elsewhere.public_id):
        fields = _fields(_admit(as_clinician, world, bed=str(bed), admitted_on=str(today)))
        assert fields == {"bed": ["No bed with this id at your sites."]}
    fields = _fields(_admit(as_clinician, world, patient=str(uuid.uuid4()), admitted_on=str(today)))
    assert fields == {"patient": ["No patient with this id at your sites."]}
    assert "public_id" not in str(fields)
    assert not Placement.objects.filter(patient=world.newcomer).exists()


def test_an_unknown_facilitator_is_named_too(api, world, program_admin, today):
    api.force_authenticate(program_admin)
    body = {"program": str(world.iop.public_id), "kind": "group_therapy", "rule": "FREQ=WEEKLY;BYDAY=FR",
            "start_time": "18:00", "duration_minutes": 90, "capacity": 8, "starts_on": str(today),
            "facilitator": "omar.lakeview"}  # fmt: skip
    assert _fields(api.post("/api/v1/session-series/", body, format="json")) == {
        "facilitator": ["No colleague with this username at your sites."]
    }


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("FREQ=WEEKLY;BYDAY", 'has "BYDAY" where a NAME=VALUE pair belongs'),
        ("FREQ=WEEKLY;DAYS=MO", "unknown part DAYS"),
        ("BYDAY=MO,WE", "must say how often with FREQ"),
        ("FREQ=WEEKLY;BYDAY=XX", "could not be read: check the values"),
        ("FREQ=SOMETIMES", "could not be read: check the values"),
    ],
)
def test_a_bad_repeat_rule_is_explained_without_python_internals(rule, says):
    with pytest.raises(InvalidSchedule) as refused:
        schedule.parse_rule(rule, dtstart=dt.datetime(2027, 1, 4, 18, 0))
    message = refused.value.message
    assert says in message and "FREQ=WEEKLY;BYDAY=MO,WE,TH" in message
    for internals in ("unpack", "invalid literal", "KeyError", "not enough values", "RFC 5545 ("):
        assert internals not in message


def test_a_bad_repeat_rule_through_the_api(api, world, program_admin, today):
    api.force_authenticate(program_admin)
    body = {"program": str(world.iop.public_id), "kind": "group_therapy", "rule": "FREQ=WEEKLY;BYDAY",
            "start_time": "18:00", "duration_minutes": 90, "capacity": 8, "starts_on": str(today)}  # fmt: skip
    fields = _fields(api.post("/api/v1/session-series/", body, format="json"))
    assert "NAME=VALUE" in fields["rule"][0] and "unpack" not in fields["rule"][0]
    assert not SessionSeries.objects.filter(kind="group_therapy", rule="FREQ=WEEKLY;BYDAY").exists()


def _expired_token(user) -> str:
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-dt.timedelta(minutes=1))
    return str(token)


@pytest.mark.parametrize("kind", ["expired", "garbage", "signed elsewhere"])
def test_an_expired_or_garbage_token_says_sign_in_again(api, patient_user, kind):
    tokens = {
        "expired": lambda: _expired_token(patient_user),
        "garbage": lambda: "not-a-token",
        "signed elsewhere": lambda: str(AccessToken.for_user(patient_user))[:-4] + "AAAA",
    }
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens[kind]()}")
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json() == {"error": {"code": "token_invalid", "message": SESSION_EXPIRED}}


def test_a_refresh_token_that_is_no_good_says_the_same(api, db):
    for path in ("/api/v1/auth/token/refresh/", "/api/v1/auth/logout/"):
        error = api.post(path, {"refresh": "not-a-token"}, format="json").json()["error"]
        assert error["code"] == "token_invalid" and error["message"] == SESSION_EXPIRED


def test_a_planned_discharge_before_the_admission_is_said_plainly(as_clinician, world, today):
    before = today - dt.timedelta(days=5)
    fields = _fields(_admit(as_clinician, world, admitted_on=str(today), planned_discharge_on=str(before)))
    assert fields == {
        "planned_discharge_on": [
            f"The planned discharge ({localtime.day(before)}) must come after the admission ({localtime.day(today)})."
        ]
    }


def test_an_impossible_date_is_called_impossible(as_clinician, world):
    fields = _fields(_admit(as_clinician, world, admitted_on="2026-13-45"))
    assert fields["admitted_on"] == ["2026-13-45 is an impossible date: no such day on the calendar (YYYY-MM-DD)."]
    assert "format" in _fields(_admit(as_clinician, world, admitted_on="next tuesday"))["admitted_on"][0]


def test_every_invalid_field_of_a_patch_to_me_is_listed_at_once(as_patient, patient):
    etag = as_patient.get("/api/v1/me/")["ETag"]
    body = {"phone": "12345", "date_of_birth": "1990-02-30", "time_zone": "Nowhere/City"}
    fields = _fields(as_patient.patch("/api/v1/me/", body, format="json", HTTP_IF_MATCH=etag))
    assert set(fields) == {"phone", "date_of_birth", "time_zone"}
    assert "read-only" in fields["date_of_birth"][0]


def test_every_invalid_field_of_a_staff_patch_is_listed_at_once(as_clinician, world):
    url = f"/api/v1/patients/{world.patient.public_id}/"
    etag = as_clinician.get(url)["ETag"]
    body = {"phone": "12", "date_of_birth": "2026-13-45", "time_zone": "Mars/Base", "mrn": "X-1", "colour": "blue"}
    fields = _fields(as_clinician.patch(url, body, format="json", HTTP_IF_MATCH=etag))
    assert set(fields) == {"phone", "date_of_birth", "time_zone", "mrn", "colour"}
    assert "impossible date" in fields["date_of_birth"][0]
    assert "does not take this field" in fields["colour"][0] and "mrn" in fields


def test_a_read_only_field_in_a_write_is_refused_and_nothing_is_written(as_clinician, world, today):
    fields = _fields(_admit(as_clinician, world, admitted_on=str(today), id=str(uuid.uuid4()), status="completed"))
    assert set(fields) == {"id", "status"}
    assert not Placement.objects.filter(patient=world.newcomer).exists()


def _endpoints():
    generator = SchemaGenerator()
    generator._initialise_endpoints()
    for path, _regex, method, view in generator._get_paths_and_endpoints():  # the views as the schema sees them
        yield path, method, view


def _serializers(serializer):
    """A serializer and the serializers nested in it."""
    serializer = serializer() if isinstance(serializer, type) else serializer
    serializer = getattr(serializer, "child", serializer)
    if not isinstance(serializer, serializers.Serializer):
        return
    yield serializer
    for field in serializer.fields.values():
        yield from _serializers(field)


def test_every_write_serializer_refuses_what_it_does_not_take_and_names_records_the_same_way():
    """One mechanism for the whole API: a write serializer without it fails here, not in a user's hands."""
    checked = 0
    for path, method, view in _endpoints():
        if method not in {"POST", "PATCH", "PUT"}:
            continue
        for serializer in _serializers(view.schema.get_request_serializer()):
            checked += 1
            assert isinstance(serializer, StrictInputMixin), f"{method} {path}: {type(serializer).__name__}"
            for name, field in serializer.fields.items():
                if isinstance(field, serializers.RelatedField) and not field.read_only:
                    assert isinstance(field, ScopedRelatedField), f"{method} {path}: {name}"
    assert checked > 20


# --- defect 10: date-times are range-checked -------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-07T10:00:00+17:23",
        "2026-12-07T10:00:00-16:00",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "2026-13-45T10:00:00Z",
    ],
)
def test_a_date_time_filter_out_of_range_is_a_400(api, site_clinician, value):
    api.force_authenticate(site_clinician)
    for name in ("due_after", "due_before"):
        fields = _fields(api.get("/api/v1/reminders/", {name: value}))
        assert list(fields) == [name]


def test_a_date_time_filter_in_range_still_filters(api, site_clinician):
    api.force_authenticate(site_clinician)
    assert api.get("/api/v1/reminders/", {"due_after": "2026-12-07T10:00:00+14:00"}).status_code == 200
    assert api.get("/api/v1/reminders/", {"due_before": "2026-12-07T10:00:00-12:00"}).status_code == 200


@pytest.mark.parametrize("value", ["2027-01-05T10:00:00+17:23", "2027-01-05T10:00:00-15:59", "2027-02-30T10:00:00Z"])
def test_a_date_time_in_a_body_out_of_range_is_a_400(as_clinician, world, value):
    url = f"/api/v1/sessions/{world.session.public_id}/move/"
    fields = _fields(as_clinician.post(url, {"starts_at": value}, format="json"))
    assert list(fields) == ["starts_at"]


def test_every_date_time_filter_is_range_checked():
    def views(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from views(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
                yield pattern.callback.cls

    filtersets = {getattr(view, "filterset_class", None) for view in views(get_resolver().url_patterns)} - {None}
    assert filtersets
    for filterset in filtersets:
        for name, filter_ in filterset.base_filters.items():
            if isinstance(filter_, django_filters.DateTimeFilter | django_filters.IsoDateTimeFilter):
                assert isinstance(filter_, BoundedIsoDateTimeFilter), f"{filterset.__name__}.{name}"


# --- defect 12: the schema says what the API answers ---------------------------------------------------------


@pytest.fixture
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_unset_choices_are_null_and_the_schema_says_so(as_clinician, world, patient_user, schema):
    booking = as_clinician.get("/api/v1/bookings/", {"session": str(world.session.public_id)}).json()["results"][0]
    assert booking["cancel_reason"] is None and booking["attendance"] is None and booking["patient_response"] is None
    stay = as_clinician.get(f"/api/v1/residential-stays/{world.stay.public_id}/").json()
    assert stay["end_reason"] is None
    episode = as_clinician.get(f"/api/v1/episodes/{world.stay.episode.public_id}/").json()
    assert [p["end_reason"] for p in episode["placements"]] == [None]
    as_patient = APIClient()
    as_patient.force_authenticate(patient_user)
    mine = as_patient.get("/api/v1/me/sessions/", {"when": "upcoming"}).json()["results"][0]
    assert mine["attendance"] is None and mine["response"] is None

    components = schema["components"]["schemas"]
    for component, fields in {
        "Booking": ["cancel_reason", "attendance", "patient_response"],
        "MySession": ["attendance", "response"],
        "Placement": ["end_reason"],
        "EpisodePlacement": ["end_reason"],
    }.items():
        for name in fields:
            assert components[component]["properties"][name]["nullable"] is True, (component, name)


def test_every_blank_choice_in_an_answer_is_an_optional_choice():
    """A model choice that may be blank never leaves the API as "" (which no enum in the schema allows)."""
    for _path, method, view in _endpoints():
        if method != "GET":
            continue
        for serializer in _serializers(view.schema.get_response_serializers()):
            model = getattr(getattr(serializer, "Meta", None), "model", None)
            for name, field in serializer.fields.items():
                if not isinstance(field, serializers.ChoiceField) or model is None:
                    continue
                try:
                    model_field = model._meta.get_field(field.source)
                except Exception:
                    continue
                if model_field.blank:
                    assert isinstance(field, OptionalChoiceField), f"{type(serializer).__name__}.{name}"


def test_pages_and_page_sizes_are_bounded_as_the_schema_says(as_clinician, world, schema):
    for params in ({"page": 0}, {"page": -1}, {"page": "x"}, {"page_size": 0}, {"page_size": 101}):
        assert list(_fields(as_clinician.get("/api/v1/bookings/", params))) == list(params)
    assert as_clinician.get("/api/v1/bookings/", {"page": 1, "page_size": 100}).status_code == 200
    assert as_clinician.get("/api/v1/bookings/", {"page": 999}).status_code == 404

    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/bookings/"]["get"]["parameters"]}
    assert parameters["page"]["minimum"] == 1
    assert (parameters["page_size"]["minimum"], parameters["page_size"]["maximum"]) == (1, 100)


def test_if_match_star_matches_and_a_malformed_one_is_a_400(as_patient, patient, schema):
    def patch(name, **headers):
        return as_patient.patch("/api/v1/me/", {"preferred_name": name}, format="json", **headers)

    assert patch("Lex", HTTP_IF_MATCH="*").status_code == 200  # RFC 9110: any current representation
    patient.refresh_from_db()
    assert patient.preferred_name == "Lex"
    for malformed in ("", '""', "no-quotes", '"a", "b"'):
        error = patch("Al", HTTP_IF_MATCH=malformed).json()["error"]
        assert error["code"] == "if_match_invalid" and "double quotes" in error["message"]
    assert patch("Al").status_code == 428
    assert patch("Al", HTTP_IF_MATCH='"2001-01-01T00:00:00+00:00"').status_code == 412
    patient.refresh_from_db()
    assert patient.preferred_name == "Lex"

    header = next(p for p in schema["paths"]["/api/v1/me/"]["patch"]["parameters"] if p["name"] == "If-Match")
    assert header["required"] and "*" in header["description"]


def test_booking_blank_choices_are_stored_blank_and_answered_null(as_clinician, world):
    # The database keeps Django's "" for a text choice that is unset; only the answer changes.
    assert Booking.objects.get(pk=world.booking.pk).attendance == ""
