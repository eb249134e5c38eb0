"""What a reminder says, word for word, and who it says it is from (mutation testing, issue 18).

Every text here is the whole text a patient receives: a changed word, a dropped place or phone
number, a wrong day or order shows as a difference. Instants are fixed; nothing depends on the hour.
"""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from patients.models import Patient
from programs.models import Site
from reminders.content import Sender, check_discreet, local_day, render, sender_for
from reminders.models import SiteMessagingProfile
from reminders.targets import EventDetails

pytestmark = pytest.mark.django_db

NY = "America/New_York"


@pytest.fixture(autouse=True)
def _defaults(settings):
    settings.REMINDERS_DEFAULT_DISPLAY_NAME = "Appointments"
    settings.REMINDERS_DEFAULT_REPLY_PHONE = "+14155550199"


def _site(**overrides):
    values = {"name": "Hope Recovery Center", "code": "hope", "time_zone": NY, "address": "12 Mill Road\nSuite 3",
              "phone": "+14155550100"}  # fmt: skip
    return Site.objects.create(**{**values, **overrides})


def _profile(site, **overrides):
    return SiteMessagingProfile.objects.create(site=site, **{"display_name": "Mill Road Health", **overrides})


def _appointment(site, starts_at):
    return EventDetails(label="appointment", day=starts_at.date(), starts_at=starts_at, site=site)


def _checkin(site, day):
    return EventDetails(label="check-in", day=day, starts_at=None, site=site)


def _patient(**overrides):
    return Patient(**{"time_zone": NY, "preferred_language": "en", **overrides})


# 23:00 UTC on 3 March 2026 is 18:00 in New York; 00:30 UTC on 5 March is 19:30 on 4 March there.
TUE_6PM = dt.datetime(2026, 3, 3, 23, 0, tzinfo=dt.UTC)
WED_730PM = dt.datetime(2026, 3, 5, 0, 30, tzinfo=dt.UTC)


# --- The sender -------------------------------------------------------------------------------


def test_without_a_site_the_sender_is_the_default_name_and_number():
    assert sender_for(None) == Sender(name="Appointments", place="", phone="+14155550199")


def test_without_a_profile_the_sender_is_the_default_name_at_the_sites_first_address_line():
    assert sender_for(_site()) == Sender(name="Appointments", place="12 Mill Road", phone="+14155550100")


def test_a_site_without_address_or_phone_gives_no_place_and_the_default_number():
    assert sender_for(_site(address="", phone="")) == Sender(name="Appointments", place="", phone="+14155550199")


def test_the_profiles_name_place_and_number_come_first():
    site = _site()
    _profile(site, place="  Mill Rd, Unit 3 ", reply_phone="+14155550111")
    assert sender_for(site) == Sender(name="Mill Road Health", place="Mill Rd, Unit 3", phone="+14155550111")


def test_a_profile_without_place_or_number_falls_back_to_the_sites():
    site = _site()
    _profile(site)
    assert sender_for(site) == Sender(name="Mill Road Health", place="12 Mill Road", phone="+14155550100")


def test_values_that_name_the_care_or_the_site_are_dropped_rather_than_sent():
    site = _site(name="Harbor House")
    # Saved around the form's check (a data migration, the shell): the sender still gives nothing away.
    SiteMessagingProfile.objects.bulk_create(
        [
            SiteMessagingProfile(
                site=site,
                display_name="Harbor Detox",
                place="Harbor House, 2 Pier St",
                reply_phone="group line 5550100",
            )
        ]
    )
    site = Site.objects.get(pk=site.pk)
    assert sender_for(site) == Sender(name="Appointments", place="", phone="+14155550199")


# --- SMS -----------------------------------------------------------------------------------------


def test_an_sms_for_one_appointment():
    site = _site()
    _profile(site)
    text = render(channel="sms", items=[_appointment(site, TUE_6PM)], patient=_patient()).body
    assert text == (
        "Mill Road Health: reminder of your appointment on Tue 3 Mar at 18:00 at 12 Mill Road. "
        "Questions: call +14155550100. Reply STOP to opt out."
    )


def test_an_sms_for_a_whole_day_check_in_names_the_day_and_no_place():
    site = _site()
    _profile(site)
    text = render(channel="sms", items=[_checkin(site, dt.date(2026, 3, 4))], patient=_patient()).body
    assert text == (
        "Mill Road Health: reminder of your check-in on Wed 4 Mar. Questions: call +14155550100. Reply STOP to opt out."
    )


def test_an_sms_too_long_drops_the_place_first_then_the_number():
    site = _site(address="1234 Extraordinarily Long Boulevard Name, Building 7, Floor 3")
    _profile(site, display_name="Mill Road Health and Wellness Centre")
    one = [_appointment(site, TUE_6PM)]
    without_place = render(channel="sms", items=one, patient=_patient()).body
    assert without_place == (
        "Mill Road Health and Wellness Centre: reminder of your appointment on Tue 3 Mar at 18:00. "
        "Questions: call +14155550100. Reply STOP to opt out."
    )
    SiteMessagingProfile.objects.filter(site=site).update(reply_phone="+1 (415) 555-0100 ext. 123456789")
    site = Site.objects.get(pk=site.pk)
    without_number = render(channel="sms", items=[_appointment(site, TUE_6PM)], patient=_patient()).body
    assert without_number == (
        "Mill Road Health and Wellness Centre: reminder of your appointment on Tue 3 Mar at 18:00. "
        "Reply STOP to opt out."
    )


def test_an_sms_for_several_items_lists_each_under_its_local_day_in_calendar_order():
    site = _site()
    _profile(site)
    items = [_appointment(site, WED_730PM), _appointment(site, TUE_6PM), _checkin(site, dt.date(2026, 3, 4))]
    text = render(channel="sms", items=[*items, items[0]], patient=_patient()).body  # a duplicate is listed once
    assert text == (
        "Mill Road Health: reminders for Tue 3 Mar: appointment 18:00; Wed 4 Mar: check-in; appointment 19:30. "
        "Questions: call +14155550100. Reply STOP to opt out."
    )


def test_an_sms_for_too_many_items_keeps_the_earliest_and_counts_the_rest():
    site = _site()
    _profile(site)
    items = [_appointment(site, TUE_6PM + dt.timedelta(days=d)) for d in range(6)]
    text = render(channel="sms", items=items, patient=_patient()).body
    assert len(text) <= 160
    assert text == (
        "Mill Road Health: reminders for Tue 3 Mar: appointment 18:00; Wed 4 Mar: appointment 18:00 +4 more. "
        "Questions: call +14155550100. Reply STOP to opt out."
    )


def test_an_sms_never_goes_over_160_characters_even_with_extreme_profile_values():
    site = _site(address="")
    _profile(site, display_name="M" * 40, reply_phone="5" * 32)
    items = [_appointment(site, TUE_6PM + dt.timedelta(days=d)) for d in range(2)]
    text = render(channel="sms", items=items, patient=_patient()).body
    assert len(text) == 160 and text.startswith("M" * 40 + ": reminders for Tue 3 Mar: appointment 18:00 +1 more.")


def test_a_spanish_sms_drops_only_the_accents_gsm7_lacks():
    site = _site()
    _profile(site)
    item = _checkin(site, dt.date(2026, 3, 4))
    text = render(channel="sms", items=[item], patient=_patient(preferred_language="es")).body
    # "más" loses its accent (not in GSM-7, it would cut the segment to 70 characters); "mié" keeps é (in GSM-7).
    assert text == (
        "Mill Road Health: recordatorio de su seguimiento el mié 4 mar. Preguntas: llame al +14155550100. "
        "Responda STOP para no recibir mas."
    )


# --- Push and e-mail -----------------------------------------------------------------------------


def test_a_push_names_the_sender_and_the_items():
    site = _site()
    _profile(site)
    items = [_appointment(site, TUE_6PM), _checkin(site, dt.date(2026, 3, 4))]
    rendered = render(channel="push", items=items, patient=_patient())
    assert (rendered.channel, rendered.title, rendered.subject) == ("push", "Reminder from Mill Road Health", "")
    assert rendered.body == "Your appointment on Tue 3 Mar at 18:00; check-in on Wed 4 Mar."


def test_a_confidential_patients_push_says_nothing_on_the_lock_screen():
    site = _site()
    _profile(site)
    rendered = render(
        channel="push", items=[_appointment(site, TUE_6PM)], patient=_patient(confidential_communication=True)
    )
    assert (rendered.title, rendered.body) == ("Reminder", "You have a reminder. Open the app for details.")


def test_an_email_lists_each_item_with_its_place_and_how_to_reach_the_clinic():
    site = _site()
    _profile(site)
    items = [_checkin(site, dt.date(2026, 3, 4)), _appointment(site, TUE_6PM)]
    rendered = render(channel="email", items=items, patient=_patient())
    assert (rendered.channel, rendered.title) == ("email", "")
    assert rendered.subject == "Reminder from Mill Road Health: Tue 3 Mar"
    assert rendered.body == (
        "Hello,\n\nThis is a reminder of:\n"
        "- your appointment on Tue 3 Mar at 18:00 at 12 Mill Road\n"
        "- your check-in on Wed 4 Mar\n"
        "\nIf you have a question or need to change it, call +14155550100.\n\nMill Road Health\n\n"
        "You receive this because you agreed to reminders. Reply to this e-mail or call us to stop them."
    )


def test_an_email_without_a_number_to_call_leaves_that_line_empty(settings):
    settings.REMINDERS_DEFAULT_REPLY_PHONE = ""
    site = _site(phone="", address="")
    rendered = render(channel="email", items=[_appointment(site, TUE_6PM)], patient=_patient())
    assert rendered.body == (
        "Hello,\n\nThis is a reminder of:\n- your appointment on Tue 3 Mar at 18:00\n\n\n\nAppointments\n\n"
        "You receive this because you agreed to reminders. Reply to this e-mail or call us to stop them."
    )


def test_nothing_to_render_is_an_error():
    with pytest.raises(ValueError, match=r"^nothing to render$"):
        render(channel="sms", items=[], patient=_patient())


# --- The staff-typed values and the patient's day -------------------------------------------------


def test_check_discreet_names_every_word_it_found():
    with pytest.raises(ValidationError) as info:
        check_discreet("Harbor Group Therapy", extra=["Harbor"])
    assert info.value.code == "not_discreet"
    assert info.value.messages == [
        "Patients see this in texts, e-mails and their calendar, where others may read it: "
        'it must not contain "therapy", "group", "Harbor".'
    ]
    check_discreet("Mill Road Health", extra=["Harbor"])
    check_discreet("", extra=[""])


def test_local_day_is_the_date_in_the_zone_given():
    assert local_day(dt.datetime(2026, 3, 4, 3, 0, tzinfo=dt.UTC), NY) == dt.date(2026, 3, 3)
    assert local_day(dt.datetime(2026, 3, 4, 5, 0, tzinfo=dt.UTC), NY) == dt.date(2026, 3, 4)


# --- The edges: no number to call, an unknown label, exactly 160 characters ----------------------


def test_without_any_number_to_call_the_sms_has_no_questions_sentence(settings):
    settings.REMINDERS_DEFAULT_REPLY_PHONE = ""
    site = _site(phone="", address="")
    text = render(channel="sms", items=[_appointment(site, TUE_6PM)], patient=_patient()).body
    assert text == "Appointments: reminder of your appointment on Tue 3 Mar at 18:00. Reply STOP to opt out."


def test_a_label_without_a_translation_is_shown_as_given():
    item = EventDetails(label="visit", day=dt.date(2026, 3, 4), starts_at=None, site=None)
    assert render(channel="push", items=[item], patient=_patient()).body == "Your visit on Wed 4 Mar."


def _name_for_exactly_160(render_with) -> str:
    """A sender name (no forbidden word) that makes the text exactly 160 characters long."""
    short = render_with("M")
    name = "M" * (1 + 160 - len(short))
    assert len(render_with(name)) == 160 and len(name) <= 40
    return name


@pytest.mark.parametrize("with_place", [True, False], ids=["with-place", "without-place"])
def test_an_sms_of_exactly_160_characters_is_sent_whole(with_place):
    site = _site(address="12 Mill Road" if with_place else "")
    phone = "+14155550100" if with_place else "+1 (415) 555-0100 ext. 123456789"  # a longer text without a place
    profile = _profile(site, display_name="M", reply_phone=phone)

    def render_with(name):
        SiteMessagingProfile.objects.filter(pk=profile.pk).update(display_name=name)
        fresh = Site.objects.get(pk=site.pk)
        return render(channel="sms", items=[_appointment(fresh, TUE_6PM)], patient=_patient()).body

    text = render_with(_name_for_exactly_160(render_with))
    assert text.endswith(
        (" at 12 Mill Road." if with_place else " at 18:00.") + f" Questions: call {phone}. Reply STOP to opt out."
    )


def test_a_merged_sms_of_exactly_160_characters_lists_every_item():
    site = _site()
    profile = _profile(site, display_name="M")
    items_at = [TUE_6PM, WED_730PM]

    def render_with(name):
        SiteMessagingProfile.objects.filter(pk=profile.pk).update(display_name=name)
        fresh = Site.objects.get(pk=site.pk)
        return render(channel="sms", items=[_appointment(fresh, t) for t in items_at], patient=_patient()).body

    text = render_with(_name_for_exactly_160(render_with))
    assert "Tue 3 Mar: appointment 18:00; Wed 4 Mar: appointment 19:30." in text and "more" not in text


def test_a_blank_value_is_never_refused_whatever_the_sites_name():
    check_discreet(None, extra=["x"])
    check_discreet("", extra=["x"])


def test_a_sender_name_or_number_that_names_the_site_itself_is_dropped():
    site = _site(name="Harbor House", address="2 Pier St")
    # Saved around the form's check: the site's own name (it may say what the site is) never goes out.
    SiteMessagingProfile.objects.bulk_create(
        [SiteMessagingProfile(site=site, display_name="Harbor House", reply_phone="Harbor House desk")]
    )
    site = Site.objects.get(pk=site.pk)
    assert sender_for(site) == Sender(name="Appointments", place="2 Pier St", phone="+14155550199")


def test_days_are_the_patients_local_days_in_every_channel():
    site = _site()
    _profile(site)
    late_tuesday = dt.datetime(2026, 3, 4, 4, 30, tzinfo=dt.UTC)  # 23:30 on Tuesday 3 March in New York
    push = render(channel="push", items=[_appointment(site, WED_730PM)], patient=_patient())
    assert (push.channel, push.body) == ("push", "Your appointment on Wed 4 Mar at 19:30.")
    email = render(channel="email", items=[_checkin(site, dt.date(2026, 3, 4)), _appointment(site, late_tuesday)],
                   patient=_patient())  # fmt: skip
    assert email.subject == "Reminder from Mill Road Health: Tue 3 Mar"
    assert "- your appointment on Tue 3 Mar at 23:30 at 12 Mill Road\n- your check-in on Wed 4 Mar\n" in email.body
    sms = render(channel="sms", items=[_appointment(site, TUE_6PM)], patient=_patient())
    secret = render(
        channel="push", items=[_appointment(site, TUE_6PM)], patient=_patient(confidential_communication=True)
    )
    assert (sms.channel, secret.channel) == ("sms", "push")


@pytest.mark.parametrize(
    "site_name, typed",
    [
        # lower() keeps "ß", so "großmann" would not be found in "grossmann".
        ("Großmann Haus", "GROSSMANN FRONT DESK"),
        # upper() keeps the capital "ẞ" of German capitals, so "GROSSMANN" would not be found in "GROẞMANN".
        ("Großmann Haus", "GROẞMANN FRONT DESK"),
        ("Grossmann Haus", "Großmann front desk"),
    ],
)
def test_the_sites_own_name_is_found_in_any_spelling_of_its_sharp_s(site_name, typed):
    with pytest.raises(ValidationError) as info:
        check_discreet(typed, extra=[site_name.split()[0]])
    assert info.value.messages[0].endswith(f'it must not contain "{site_name.split()[0]}".')


def test_a_sharp_s_spelling_of_a_forbidden_word_is_refused():
    # "SEẞION" is "session" caselessly; neither lower() ("seßion") nor upper() ("SEẞION") finds it.
    with pytest.raises(ValidationError) as info:
        check_discreet("SEẞION ROOM")
    assert info.value.messages[0].endswith('it must not contain "session".')
    # A ligature is its letters caselessly too: "Subﬆance" names "substance".
    with pytest.raises(ValidationError):
        check_discreet("Subﬆance Street")
