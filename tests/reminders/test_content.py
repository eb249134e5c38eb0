"""Discreet content (42 CFR Part 2): every template, rendered with the demo clinic, names nothing it must not."""

import datetime as dt
import re
import unicodedata
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from patients.models import Patient
from programs.models import AftercareCheckIn, Program, Site
from reminders.content import (
    FORBIDDEN_WORDS,
    FORBIDDEN_WORDS_ES,
    SMS_MAX_CHARS,
    check_discreet,
    contains_forbidden,
    render,
)
from reminders.models import SiteMessagingProfile
from reminders.targets import CheckInTarget, EventDetails

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    call_command("seed_demo", "--no-progress", "--patients", "20")


def _all_renderings(patient: Patient, items: list[EventDetails]):
    for confidential in (False, True):
        patient.confidential_communication = confidential
        for channel in ("sms", "email", "push"):
            for chosen in ([items[0]], items):
                yield channel, render(channel=channel, items=chosen, patient=patient)


@pytest.mark.parametrize("with_profile", [False, True], ids=["default-sender", "site-profile"])
def test_every_template_is_discreet_and_texts_fit_160_characters(demo, with_profile):
    if with_profile:
        for site in Site.objects.all():
            SiteMessagingProfile.objects.create(site=site, display_name=f"{site.code.title()} Health")
    target = CheckInTarget()
    checkins = list(AftercareCheckIn.objects.select_related("plan__program__site", "plan__patient"))
    assert checkins, "the demo clinic has discharged patients with check-ins"
    # Whatever a template may not say: program and site names, levels of care, other patients.
    program_names = [p.name for p in Program.objects.all()]
    site_names = [s.name for s in Site.objects.all()]
    people = list(Patient.objects.all())
    session_like = EventDetails(
        label="appointment",
        day=checkins[0].due_on,
        starts_at=dt.datetime.combine(checkins[0].due_on, dt.time(18, 30), tzinfo=dt.UTC),
        site=checkins[0].plan.program.site,
    )
    for checkin in checkins:
        patient = checkin.plan.patient
        items = [target.details(checkin), session_like, session_like, session_like]
        others = [
            p.legal_last_name for p in people if p.pk != patient.pk and p.legal_last_name != patient.legal_last_name
        ]
        for channel, message in _all_renderings(patient, items):
            text = f"{message.subject}\n{message.title}\n{message.body}"
            found = contains_forbidden(text, extra=[*program_names, *site_names, *others, patient.legal_last_name])
            assert not found, f"{channel} reveals {found}: {text!r}"
            if channel == "sms":
                assert len(message.body) <= SMS_MAX_CHARS, message.body
                assert "STOP" in message.body
            if channel != "push" or not patient.confidential_communication:
                assert f"{checkin.due_on.day} {checkin.due_on:%b}" in text  # the date is there


def test_the_word_list_covers_the_obvious():
    assert {"program", "treatment", "therapy", "group", "session", "rehab", "detox"} <= set(FORBIDDEN_WORDS)
    assert contains_forbidden("Your IOP Group Session") == ["group", "session", "iop"]


def test_a_text_names_time_and_place_for_an_appointment(db):
    site = Site.objects.create(name="Hope Recovery Center", code="hope", time_zone="America/New_York",
                               address="12 Mill Road\nSuite 3", phone="+14155550100")  # fmt: skip
    SiteMessagingProfile.objects.create(site=site, display_name="Mill Road Health")
    patient = Patient(time_zone="America/New_York")
    item = EventDetails(
        label="appointment", day=dt.date(2026, 3, 3), starts_at=dt.datetime(2026, 3, 3, 23, 0, tzinfo=dt.UTC), site=site
    )
    text = render(channel="sms", items=[item], patient=patient).body
    assert text == (
        "Mill Road Health: reminder of your appointment on Tue 3 Mar at 18:00 at 12 Mill Road. "
        "Questions: call +14155550100. Reply STOP to opt out."
    )
    assert "Recovery" not in text


# The whole list, word by word and language by language (issue 18): written out here, apart from
# the code's own tuples, so removing a word from reminders/content.py fails the test that names it.
MUST_BE_REFUSED = {
    "en": [
        "program", "treatment", "therapy", "therapist", "counsel", "group", "session", "iop", "outpatient",
        "inpatient", "residential", "rehab", "recovery", "sober", "substance", "alcohol", "drug", "opioid",
        "methadone", "detox", "addiction", "relapse", "aftercare", "diagnos", "mental", "psych", "behavioral",
        "asam", "level of care", "discharge", "intensive", "clinical",
    ],
    "es": [
        "tratamiento", "adicción", "recuperación", "terapia", "rehabilitación", "desintoxicación", "sobriedad",
        "alcohol", "droga", "grupo", "psicológico", "psiquiátrico", "salud mental", "consejería", "recaída",
        "residencial", "ambulatorio", "intensivo", "programa", "sesión", "adicto", "abstinencia",
    ],
}  # fmt: skip


@pytest.mark.parametrize(
    ("language", "word"), [(language, word) for language, words in MUST_BE_REFUSED.items() for word in words]
)
def test_every_forbidden_word_is_caught_in_any_case_and_with_or_without_accents(language, word):
    for text in (f"See you {word} soon", f"VER {word.upper()}.", f"x{word.title()}x"):
        assert word in contains_forbidden(text), (language, text)
    # Texts drop accents to stay in GSM-7 ("adiccion"): the plain spelling is caught as well.
    plain = unicodedata.normalize("NFD", word)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    assert word in contains_forbidden(f"Hola {plain}"), (language, plain)
    # And staff cannot save it as a sender name, a place or a reply number.
    with pytest.raises(ValidationError, match=f'must not contain .*"{re.escape(word)}"'):
        check_discreet(f"North {word} Health")


def test_the_spanish_words_the_domain_guide_names_are_all_refused():
    guide = (Path(__file__).resolve().parents[2] / "docs" / "domain.md").read_text()
    listed = guide.split("Spanish words that would give the care\naway include:")[1].split(".")[0]
    words = [w.strip() for w in listed.replace("\n", " ").split(",")]
    assert len(words) == 18 and set(words) <= set(FORBIDDEN_WORDS_ES)
    assert set(MUST_BE_REFUSED["es"]) == set(FORBIDDEN_WORDS_ES)
    assert set(MUST_BE_REFUSED["en"]) == set(FORBIDDEN_WORDS)
