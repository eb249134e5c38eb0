"""The admissions worklists (issue 12): waiting for admission, reservations expiring, referrals not contacted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from admissions import services
from admissions.models import Referral, Reservation
from clinic.access import Role
from clinic.models import AuditEvent
from programs.models import Placement
from tests.factories import BedFactory, staff_member
from tests.query_counts import assert_constant_queries

pytestmark = pytest.mark.django_db

D = dt.timedelta
WAITING = reverse("admin:admissions_worklist_waiting")
EXPIRING = reverse("admin:admissions_worklist_expiring")
NOT_CONTACTED = reverse("admin:admissions_worklist_not_contacted")


def _rows(response) -> dict:
    assert response.status_code == 200
    return {row.key: row for row in response.context["worklist"].rows}


def _step(model: str, obj, slug: str) -> str:
    return reverse(f"admin:admissions_{model}_step", args=[obj.pk, slug])


@pytest.fixture
def waitlist(refer, bed, clinician, instant, day):
    """Waits (priority 4, accepted five days ago, before Other) holds bed 101-A until tomorrow 8 a.m. New York
    time; Other (priority 3, so listed first) holds nothing; a new referral is not waiting."""
    waits = refer(upto="accepted", last_name="Waits", mrn="M-W", priority=4)
    other = refer(upto="accepted", last_name="Other", mrn="M-O")
    Referral.objects.filter(pk=waits.pk).update(accepted_on=day - D(days=5))
    reservation = services.reserve(
        referral=waits, bed=bed, start_on=day, expires_at=instant + D(hours=20), reserved_by=clinician
    )
    refer(upto="new", last_name="Fresh")
    return {"waits": waits, "other": other, "reservation": reservation}


# --- Waiting for admission ------------------------------------------------------------------------


def test_waiting_lists_the_waitlist_by_priority_with_the_deciding_columns(client, site_clinician, waitlist):
    client.force_login(site_clinician)

    worklist = client.get(WAITING).context["worklist"]

    waits, other = waitlist["waits"], waitlist["other"]
    assert [row.key for row in worklist.rows] == [str(other.public_id), str(waits.public_id)]  # the new one is not
    assert worklist.columns == ["Days waiting", "Level wanted", "Referred by", "Priority", "Reservation"]
    second, first = worklist.rows
    level = waits.get_requested_level_display()
    assert first.cells == [
        "5 days", level, "Hospital", "4", "Bed 101-A from March 10, 2027, held until March 11, 2027, 8 a.m."
    ]  # fmt: skip
    assert second.cells == ["0 days", level, "Hospital", "3", "none"]
    assert [a.label for a in first.actions] == ["Admit to the bed"]
    assert [a.label for a in second.actions] == ["Reserve a bed"]
    assert worklist.counted == 2


def test_reserving_a_bed_from_the_list_comes_back_to_it(client, site_clinician, waitlist, other_bed, day):
    client.force_login(site_clinician)
    action = _rows(client.get(WAITING))[str(waitlist["other"].public_id)].actions[0]

    response = client.post(
        action.url, {"bed": other_bed.pk, "start_on": (day + D(days=1)).isoformat(), "expires_at": f"{day} 23:00"}
    )

    assert response.status_code == 302 and response["Location"] == WAITING
    assert Reservation.objects.get(referral=waitlist["other"]).bed == other_bed
    row = _rows(client.get(WAITING))[str(waitlist["other"].public_id)]
    assert row.cells[4].startswith("Bed 101-B from March 11, 2027") and row.actions[0].label == "Admit to the bed"


def test_a_bed_already_reserved_is_refused_in_words_and_nothing_is_written(client, site_clinician, waitlist, bed, day):
    client.force_login(site_clinician)
    action = _rows(client.get(WAITING))[str(waitlist["other"].public_id)].actions[0]

    response = client.post(action.url, {"bed": bed.pk, "start_on": day.isoformat(), "expires_at": f"{day} 23:00"})

    assert response.status_code == 200
    assert "Bed 101-A is reserved from March 10, 2027" in str(response.context["form"].errors)
    assert not Reservation.objects.filter(referral=waitlist["other"]).exists()


def test_admitting_from_the_list_takes_the_reserved_bed(client, site_clinician, waitlist, bed):
    client.force_login(site_clinician)
    action = _rows(client.get(WAITING))[str(waitlist["waits"].public_id)].actions[0]

    response = client.post(action.url, {})

    assert response.status_code == 302 and response["Location"] == WAITING
    assert Placement.objects.get(bed=bed).patient == waitlist["waits"].patient
    assert str(waitlist["waits"].public_id) not in _rows(client.get(WAITING))


def test_front_desk_reserves_but_may_not_admit(client, front_desk, waitlist):
    client.force_login(front_desk)

    rows = _rows(client.get(WAITING))
    response = client.post(_step("reservation", waitlist["reservation"], "admit"), {})

    assert rows[str(waitlist["waits"].public_id)].actions == []
    assert [a.label for a in rows[str(waitlist["other"].public_id)].actions] == ["Reserve a bed"]
    assert response.status_code == 403 and not Placement.objects.exists()


# --- Reservations expiring in 48 hours ------------------------------------------------------------


@pytest.fixture
def expiring(waitlist, other_bed, site_clinician, clinician, instant, day):
    """Waits' hold lapses in 20 hours; Other's bed is held for three days (not expiring)."""
    services.reserve(
        referral=waitlist["other"], bed=other_bed, start_on=day, expires_at=instant + D(days=3), reserved_by=clinician
    )
    return waitlist["reservation"]


def test_expiring_shows_the_bed_the_expiry_in_local_time_and_who_reserved(client, site_clinician, expiring):
    client.force_login(site_clinician)

    worklist = client.get(EXPIRING).context["worklist"]

    assert [row.key for row in worklist.rows] == [str(expiring.public_id)]
    assert worklist.columns == ["Held", "From", "Expires", "Time left", "Reserved by"]
    # Reserved by the user with a name on record: their name, not their login.
    assert worklist.rows[0].cells == ["Bed 101-A", "March 10, 2027", "March 11, 2027, 8 a.m.", "20 h", "Dana Ortiz"]
    assert [a.label for a in worklist.rows[0].actions] == ["Extend", "Release"]


def test_extending_from_the_list_moves_the_expiry(client, site_clinician, expiring, day):
    client.force_login(site_clinician)
    extend = _rows(client.get(EXPIRING))[str(expiring.public_id)].actions[0]

    response = client.post(extend.url, {"expires_at": f"{day + D(days=4)} 09:00"})

    assert response.status_code == 302 and response["Location"] == EXPIRING
    expiring.refresh_from_db()
    assert expiring.expires_at == dt.datetime(2027, 3, 14, 13, 0, tzinfo=dt.UTC)  # 9 a.m. EDT, after the change
    assert _rows(client.get(EXPIRING)) == {}


@pytest.mark.parametrize(
    ("expires_at", "message"),
    [
        ("2027-03-11 07:00", "Choose an expiry after the current one (March 11, 2027, 8 a.m.)."),
        ("2027-05-01 09:00", "The reservation ends on April 9, 2027: choose an expiry before then."),
        ("soon", "Enter a valid date/time."),
    ],
)
def test_a_bad_extension_is_refused_in_words_and_nothing_changes(client, site_clinician, expiring, expires_at,
                                                                 message):  # fmt: skip
    client.force_login(site_clinician)
    before = expiring.expires_at

    response = client.post(_step("reservation", expiring, "extend") + f"?next={EXPIRING}", {"expires_at": expires_at})

    assert response.status_code == 200
    assert message in str(response.context["form"].errors)
    expiring.refresh_from_db()
    assert expiring.expires_at == before


def test_releasing_from_the_list_frees_the_bed_and_needs_a_reason(client, site_clinician, expiring):
    client.force_login(site_clinician)
    release = _rows(client.get(EXPIRING))[str(expiring.public_id)].actions[1]

    refused = client.post(release.url, {"reason": ""})
    expiring.refresh_from_db()
    assert refused.status_code == 200 and expiring.status == "held"

    response = client.post(release.url, {"reason": "Chose another program"})

    assert response.status_code == 302 and response["Location"] == EXPIRING
    expiring.refresh_from_db()
    assert expiring.status == "cancelled" and expiring.close_reason == "Chose another program"


def test_a_role_without_admissions_rights_gets_neither_the_list_nor_the_step(client, site, expiring):
    reviewer = staff_member(role=Role.UR_COORDINATOR, sites=[site], username="uma.ur")
    client.force_login(reviewer)

    listed = client.get(EXPIRING)
    extended = client.post(_step("reservation", expiring, "extend"), {"expires_at": "2027-03-12 09:00"})

    assert listed.status_code == 403 and extended.status_code == 403
    expiring.refresh_from_db()
    assert expiring.expires_at == dt.datetime(2027, 3, 11, 13, 0, tzinfo=dt.UTC)


# --- Referrals not contacted in 2 days ------------------------------------------------------------


@pytest.fixture
def stale(refer, instant):
    """A referral recorded three days ago nobody has called; one recorded yesterday is not late yet."""
    old = refer(upto="new", last_name="Stale", phone="+1 212 555 0147", referrer_name="Mercy Hospital")
    Referral.objects.filter(pk=old.pk).update(created_at=instant - D(days=3))
    recent = refer(upto="new", last_name="Recent", first_name="Ruth")
    Referral.objects.filter(pk=recent.pk).update(created_at=instant - D(days=1))
    return Referral.objects.get(pk=old.pk)


def test_not_contacted_lists_the_late_referrals_with_what_the_call_needs(client, site_clinician, stale):
    client.force_login(site_clinician)

    response = client.get(NOT_CONTACTED)

    worklist = response.context["worklist"]
    assert [row.key for row in worklist.rows] == [str(stale.public_id)]
    row = worklist.rows[0]
    assert row.patient is None and row.person == "Nia Stale"
    # Who referred and the number to call; no "last contact" column, which would always read "never" here.
    assert worklist.columns == ["Referred", "Waiting", "Referred by", "Phone"]
    assert row.cells == ["March 7, 2027", "3 days", "Hospital · Mercy Hospital", stale.phone]
    assert [a.label for a in row.actions] == ["Record contact"]
    # Not a patient yet: named, without a chart link.
    assert 'Nia Stale <span class="quiet">not registered yet</span>' in response.content.decode()


def test_recording_the_contact_starts_screening_and_clears_the_row(client, site_clinician, stale, instant):
    client.force_login(site_clinician)
    action = _rows(client.get(NOT_CONTACTED))[str(stale.public_id)].actions[0]
    # The step's breadcrumb names the list it was opened from, as its Cancel link returns there.
    form = client.get(action.url).content.decode()
    assert f'<a href="{NOT_CONTACTED}">Referrals not contacted in 2 days</a>' in form
    assert f'href="{NOT_CONTACTED}">Cancel</a>' in form
    # Opened from the stock list, it names that list.
    stock = client.get(_step("referral", stale, "screen")).content.decode()
    assert f'<a href="{reverse("admin:admissions_referral_changelist")}">Referrals</a>' in stock

    response = client.post(action.url, {})

    assert response.status_code == 302 and response["Location"] == NOT_CONTACTED
    stale.refresh_from_db()
    assert stale.status == "screening" and stale.contacted_at is not None
    assert _rows(client.get(NOT_CONTACTED)) == {}


def test_front_desk_sees_who_to_call_but_may_not_record_the_screening(client, front_desk, stale):
    client.force_login(front_desk)

    rows = _rows(client.get(NOT_CONTACTED))
    response = client.post(_step("referral", stale, "screen"), {})

    assert rows[str(stale.public_id)].actions == []
    assert response.status_code == 403
    stale.refresh_from_db()
    assert stale.status == "new"


# --- Every list: scope, audit, figures, queries ------------------------------------------------------


def test_a_colleague_elsewhere_sees_nothing(client, colleague_elsewhere, expiring, stale):
    client.force_login(colleague_elsewhere)

    for url in (WAITING, EXPIRING, NOT_CONTACTED):
        assert client.get(url).context["worklist"].rows == [], url


def test_the_lists_record_the_patients_they_showed(client, site_clinician, expiring, stale):
    client.force_login(site_clinician)

    client.get(WAITING)
    client.get(EXPIRING)

    shown = set(
        AuditEvent.objects.filter(user=site_clinician, detail="worklist admissions-waiting").values_list(
            "patient_id", flat=True
        )
    )
    assert shown == {expiring.patient_id, Referral.objects.get(last_name="Other").patient_id}
    assert set(
        AuditEvent.objects.filter(user=site_clinician, detail="worklist reservations-expiring").values_list(
            "patient_id", flat=True
        )
    ) == {expiring.patient_id}


def test_the_figures_open_these_lists(client, site_clinician, expiring, stale):
    client.force_login(site_clinician)

    figures = {f.label: f for f in client.get(reverse("admin:index")).context["dashboard"].figures}

    for label, url in [
        ("Waiting for admission", WAITING),
        ("Reservations expiring in 48 h", EXPIRING),
        ("Referrals not contacted in 2 days", NOT_CONTACTED),
    ]:
        assert figures[label].url == url
        assert client.get(url).context["worklist"].counted == figures[label].value, label


def _fill_waiting(refer, residential, instant, day, clinician):
    counter = iter(range(1000))

    def fill(count: int) -> None:
        for _ in range(count):
            n = next(counter)
            referral = refer(upto="accepted", last_name=f"Queue{n}", mrn=f"Q-{n}")
            bed = BedFactory(program=residential, label=f"Q{n}")
            services.reserve(referral=referral, bed=bed, start_on=day, expires_at=instant + D(hours=20),
                             reserved_by=clinician)  # fmt: skip

    return fill


@pytest.mark.parametrize("url", [WAITING, EXPIRING])
def test_waiting_and_expiring_queries_stay_constant(client, superuser, refer, residential, instant, day, clinician,
                                                     url):  # fmt: skip
    client.force_login(superuser)

    assert_constant_queries(client, url, _fill_waiting(refer, residential, instant, day, clinician))


def test_not_contacted_queries_stay_constant(client, superuser, refer, instant):
    client.force_login(superuser)
    counter = iter(range(1000))

    def fill(count: int) -> None:
        for _ in range(count):
            referral = refer(upto="new", last_name=f"Late{next(counter)}")
            Referral.objects.filter(pk=referral.pk).update(created_at=instant - D(days=3))

    assert_constant_queries(client, NOT_CONTACTED, fill)
