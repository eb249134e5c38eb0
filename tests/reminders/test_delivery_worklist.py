"""The reminder delivery worklist (issue 12): sent today, late and failed, behind the dashboard's three figures."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.urls import reverse

from clinic.access import Role
from clinic.models import AuditEvent
from reminders import services
from reminders.models import Reminder
from tests.factories import PatientFactory, ProgramFactory, staff_member
from tests.query_counts import assert_constant_queries

pytestmark = pytest.mark.django_db

D = dt.timedelta
# A Wednesday, 10:00 in New York (the program's zone): one date in UTC and New York.
INSTANT = dt.datetime(2026, 12, 9, 15, 0, tzinfo=dt.UTC)


def url(which: str) -> str:
    return reverse("admin:reminders_worklist", args=[which])


@pytest.fixture(autouse=True)
def instant():
    with time_machine.travel(INSTANT, tick=False):
        yield INSTANT


@pytest.fixture
def program(site):
    return ProgramFactory(site=site, iop=True, name="Evening IOP", aftercare_checkin_offsets=[1])


def _reminders(make_checkin, program, **patient_fields) -> list[Reminder]:
    checkin = make_checkin(program=program, due_on=INSTANT.date() + D(days=2), **patient_fields)
    services.plan_for(target="checkin", ids=[checkin.pk])
    return list(Reminder.objects.filter(checkin=checkin).order_by("id"))


@pytest.fixture
def outbox(make_checkin, program):
    """Three patients: one reminder sent at 9 a.m., one due an hour ago and still pending, one failed."""
    sent = _reminders(make_checkin, program, legal_first_name="Sia", legal_last_name="Sent")[0]
    late = _reminders(make_checkin, program, legal_first_name="Lou", legal_last_name="Late")[0]
    failed = _reminders(make_checkin, program, legal_first_name="Fay", legal_last_name="Failed")[0]
    Reminder.objects.filter(pk=sent.pk).update(status="sent", sent_at=INSTANT - D(hours=1), attempts=1)
    Reminder.objects.filter(pk=late.pk).update(due_at=INSTANT - D(hours=1), send_after=INSTANT - D(hours=1))
    Reminder.objects.filter(pk=failed.pk).update(
        status="failed", status_reason="provider_rejected", attempts=3, updated_at=INSTANT - D(hours=2)
    )
    return {name: Reminder.objects.get(pk=r.pk) for name, r in (("sent", sent), ("late", late), ("failed", failed))}


def _rows(response) -> dict:
    assert response.status_code == 200
    return {row.key: row for row in response.context["worklist"].rows}


def test_each_tab_lists_its_reminders_with_when_and_what_became_of_them(client, site_clinician, outbox):
    client.force_login(site_clinician)

    sent = _rows(client.get(url("sent-today")))
    late = _rows(client.get(url("late")))
    failed = _rows(client.get(url("failed")))

    assert set(sent) == {str(outbox["sent"].pk)}
    assert set(late) == {str(outbox["late"].pk)}
    assert set(failed) == {str(outbox["failed"].pk)}
    row = sent[str(outbox["sent"].pk)]
    assert row.cells[0] == "Aftercare check-in" and row.cells[1] == outbox["sent"].get_channel_display()
    assert row.cells[3:] == ["Sent Dec. 9, 2026, 9 a.m.", "1"]
    late_row = late[str(outbox["late"].pk)]
    assert late_row.cells[2:] == ["Dec. 9, 2026, 9 a.m.", "Pending, next try Dec. 9, 2026, 9 a.m.", "0"]
    assert [f.text for f in late_row.flags] == ["Late"] and late_row.actions == []
    failed_row = failed[str(outbox["failed"].pk)]
    assert failed_row.cells[3:] == ["Failed: The provider refused the message", "3"]
    assert [a.label for a in failed_row.actions] == ["Open chart"]
    assert failed_row.actions[0].url == reverse("admin:patients_patient_change", args=[outbox["failed"].patient_id])


def test_the_figures_open_these_lists_and_agree(client, site_clinician, outbox):
    client.force_login(site_clinician)

    figures = {f.label: f for f in client.get(reverse("admin:index")).context["dashboard"].figures}

    for label, which in [
        ("Reminders sent today", "sent-today"),
        ("Reminders late", "late"),
        ("Reminders failed", "failed"),
    ]:
        assert figures[label].url == url(which)
        assert client.get(url(which)).context["worklist"].counted == figures[label].value == 1, label


def test_scoped_to_the_users_sites_and_audited(client, site_clinician, colleague_elsewhere, outbox):
    client.force_login(colleague_elsewhere)
    assert client.get(url("failed")).context["worklist"].rows == []
    client.force_login(site_clinician)

    client.get(url("failed"))

    shown = AuditEvent.objects.filter(user=site_clinician, detail="worklist reminders-failed")
    assert set(shown.values_list("patient_id", flat=True)) == {outbox["failed"].patient_id}


def test_a_role_without_the_outbox_gets_403_and_an_unknown_tab_404(client, site, site_clinician, outbox):
    client.force_login(staff_member(role=Role.UR_COORDINATOR, sites=[site], username="uma.ur"))
    assert client.get(url("failed")).status_code == 403
    client.force_login(site_clinician)
    assert client.get(url("everything")).status_code == 404


def test_queries_stay_constant_as_the_list_grows(client, superuser, make_checkin, program):
    client.force_login(superuser)

    def fill(count: int) -> None:
        for _ in range(count):
            reminder = _reminders(make_checkin, program, patient=PatientFactory())[0]
            Reminder.objects.filter(pk=reminder.pk).update(status="failed", status_reason="retries_exhausted")

    assert_constant_queries(client, url("failed"), fill)
