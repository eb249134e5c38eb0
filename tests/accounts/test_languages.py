"""Issue 13: the patient's own language. Every text that leaves the app, in every language, is discreet and
(for texts) one segment; /me/ speaks the patient's language or the app's Accept-Language."""

from __future__ import annotations

import datetime as dt
import email
import itertools

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.content import render_code
from reminders import sms
from reminders.content import SMS_MAX_CHARS, contains_forbidden, render
from reminders.models import SiteMessagingProfile
from reminders.targets import EventDetails
from scheduling.calendar import build_calendar
from tests.factories import PatientFactory, SiteFactory

pytestmark = pytest.mark.django_db

LANGUAGES = [code for code, _name in settings.LANGUAGES]
# A fixed day and time, so every weekday and month name of the language is not left to the clock:
# one item for each day of a week, in December (the longest Spanish month abbreviation is still 3 letters).
MONDAY = dt.date(2027, 11, 29)


def _items(site) -> list[EventDetails]:
    days = [MONDAY + dt.timedelta(days=n) for n in range(7)]
    return [
        *[EventDetails(label="appointment", day=d, starts_at=dt.datetime.combine(d, dt.time(23, 30), tzinfo=dt.UTC),
                       site=site) for d in days],
        *[EventDetails(label="check-in", day=d, starts_at=None, site=site) for d in days],
    ]  # fmt: skip


@pytest.fixture(params=[False, True], ids=["default-sender", "long-site-profile"])
def clinic_site(request):
    site = SiteFactory(name="Northside Campus", address="1200 Long Avenue Northwest, Suite 300\nSpringfield")
    if request.param:
        SiteMessagingProfile.objects.create(
            site=site,
            display_name="N" * 40,
            place="1200 Long Avenue Northwest, Suite 300",
            reply_phone="+1 415 555 0100",
        )
    return site


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_in_every_language_is_discreet_and_one_segment(clinic_site, language):
    patient = PatientFactory(preferred_language=language, registered_site=clinic_site, time_zone="Pacific/Auckland")
    items = _items(clinic_site)
    rendered = []
    for confidential, channel in itertools.product((False, True), ("sms", "email", "push")):
        patient.confidential_communication = confidential
        for chosen in ([item] for item in items):
            rendered.append(render(channel=channel, items=chosen, patient=patient))
        for start in range(len(items) - 3):
            rendered.append(render(channel=channel, items=items[start : start + 4], patient=patient))
    for purpose, channel in itertools.product(("invitation", "password_reset"), ("sms", "email")):
        rendered.append(render_code(channel=channel, purpose=purpose, code="4KX9-72QM", patient=patient))
    for message in rendered:
        text = "\n".join(filter(None, [getattr(message, "subject", ""), getattr(message, "title", ""), message.body]))
        assert not contains_forbidden(text), (language, text)
        if message.channel == "sms":
            assert sms.fits_one_segment(message.body), (language, sms.length(message.body), message.body)
            assert len(message.body) <= SMS_MAX_CHARS, message.body
            # A reminder always says how to stop them (a code is a message the patient asked for).
            assert "STOP" in message.body or "4KX9-72QM" in message.body, message.body


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_calendar_feed_is_discreet_in_every_language(world, language):
    world.patient.preferred_language = language
    ics = build_calendar(patient=world.patient).decode()
    assert "BEGIN:VEVENT" in ics
    assert not contains_forbidden(ics.replace(world.site.name, "")), ics


def test_spanish_messages_are_spanish_with_spanish_dates_in_the_patients_zone(clinic_site):
    patient = PatientFactory(preferred_language="es", registered_site=clinic_site, time_zone="Pacific/Auckland")
    saturday = dt.date(2027, 12, 4)
    # 23:30 UTC on Friday the 3rd is 12:30 on Saturday the 4th in Auckland.
    item = EventDetails(label="appointment", day=saturday,
                        starts_at=dt.datetime(2027, 12, 3, 23, 30, tzinfo=dt.UTC), site=clinic_site)  # fmt: skip
    text = render(channel="sms", items=[item], patient=patient).body
    assert "recordatorio de su cita el sab 4 dic a las 12:30" in text, text
    assert sms.is_gsm7(text)
    mail = render(channel="email", items=[item], patient=patient)
    assert "sáb 4 dic" in mail.body and mail.body.startswith("Hola:")
    someone = PatientFactory(registered_site=clinic_site, time_zone="Pacific/Auckland")
    english = render(channel="sms", items=[item], patient=someone).body
    assert "reminder of your appointment on Sat 4 Dec at 12:30" in english


def test_gsm7_and_ucs2_are_counted_as_carriers_count():
    assert sms.length("Hola") == ("gsm7", 4)
    assert sms.length("ñ é ü ¿ ¡") == ("gsm7", 9)  # in GSM-7's own table
    assert sms.length("€[") == ("gsm7", 4)  # the extension table costs two septets each
    assert sms.length("código") == ("ucs2", 6)  # ó is not in GSM-7: the whole text switches
    assert not sms.fits_one_segment("ó" + "a" * 70) and sms.fits_one_segment("o" + "a" * 159)
    assert sms.sms_safe("código, días, más, sáb, Ñ, ¿qué?") == "codigo, dias, mas, sab, Ñ, ¿qué?"


def test_an_invitation_arrives_in_spanish(world, site_clinician, twilio, smtp):
    alex = world.patient
    alex.preferred_language = "es"
    alex.save(update_fields=["preferred_language"])
    staff = APIClient()
    staff.force_authenticate(site_clinician)
    assert staff.post(f"/api/v1/patients/{alex.public_id}/invitations/").status_code == 201
    text = twilio.log.created[-1]["body"]
    assert "su codigo para activar la app" in text and "Vence en 3 dias" in text and sms.is_gsm7(text)
    parsed = email.message_from_bytes(smtp.messages[-1]["data"].encode())
    body = parsed.get_payload(decode=True).decode(parsed.get_content_charset())
    assert "Su código para activar la app" in body and "Vence en 3 días" in body


def test_me_speaks_the_patients_language_unless_the_app_asks_for_another(world, api, patient_user):
    world.patient.preferred_language = "es"
    world.patient.save(update_fields=["preferred_language"])
    api.force_authenticate(patient_user)
    care = api.get("/api/v1/me/care/")
    assert care["Content-Language"] == "es"
    journey = care.json()["journey"]
    assert journey[0]["title"] == "Atención residencial"
    assert journey[0]["description"].startswith("Ingresó el ") and " de 20" in journey[0]["description"]
    english = api.get("/api/v1/me/care/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.8")
    assert english["Content-Language"] == "en" and english.json()["journey"][0]["title"] == "Residential care"
    # A language the installation does not have falls back to the patient's own.
    assert api.get("/api/v1/me/care/", HTTP_ACCEPT_LANGUAGE="xx")["Content-Language"] == "es"
    # Each language has its own tag, so a 304 never serves the other language's text.
    assert care["ETag"] != english["ETag"] and "Accept-Language" in care["Vary"]


def test_me_errors_are_in_the_patients_language(world, api, patient_user):
    from scheduling import services as schedule

    world.patient.preferred_language = "es"
    world.patient.save(update_fields=["preferred_language"])
    schedule.cancel_session(session=world.booking.session, reason="Snow day")
    api.force_authenticate(patient_user)
    answer = api.post(f"/api/v1/me/sessions/{world.booking.public_id}/response/", {"response": "confirmed"})
    assert answer.status_code == 409
    assert answer.json()["error"]["message"] == "Esta reserva se canceló; no hay nada que responder."
    stale = api.patch("/api/v1/me/", {"preferred_name": "Al"}, format="json", HTTP_IF_MATCH='"old"')
    assert stale.json()["error"]["message"].startswith("Otra persona cambió este registro")


def test_an_english_patient_can_ask_for_spanish(world, api, patient_user):
    api.force_authenticate(patient_user)
    care = api.get("/api/v1/me/care/", HTTP_ACCEPT_LANGUAGE="es-MX,es;q=0.9")
    assert care["Content-Language"] == "es" and care.json()["journey"][0]["title"] == "Atención residencial"
    # And the next request, on the same thread, is English again.
    assert api.get("/api/v1/me/care/").json()["journey"][0]["title"] == "Residential care"


def test_the_patient_chooses_their_language(world, api, patient_user):
    api.force_authenticate(patient_user)
    tag = api.get("/api/v1/me/")["ETag"]
    changed = api.patch("/api/v1/me/", {"preferred_language": "es"}, format="json", HTTP_IF_MATCH=tag)
    assert changed.status_code == 200 and changed.json()["preferred_language"] == "es"
    bad = api.patch("/api/v1/me/", {"preferred_language": "xx"}, format="json", HTTP_IF_MATCH=changed["ETag"])
    assert bad.status_code == 400 and "preferred_language" in bad.json()["error"]["fields"]


def test_my_sessions_are_titled_in_the_patients_language(world, api, patient_user):
    world.patient.preferred_language = "es"
    world.patient.save(update_fields=["preferred_language"])
    api.force_authenticate(patient_user)
    row = api.get(f"/api/v1/me/sessions/{world.booking.public_id}/").json()
    assert row["title"] == "Terapia de grupo"
    english = api.get(f"/api/v1/me/sessions/{world.booking.public_id}/", HTTP_ACCEPT_LANGUAGE="en").json()
    assert english["title"] == "Group therapy"
