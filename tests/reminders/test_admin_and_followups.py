"""The outbox in the admin (read-only, filterable) and staff follow-up items."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from clinic.errors import InvalidInput
from reminders import services
from reminders.models import FollowUpItem, Reminder
from tests.factories import PatientFactory, ProgramFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_outbox_admin_lists_and_filters_but_cannot_edit(client, make_checkin, today):
    checkin = make_checkin(due_on=today + dt.timedelta(days=2))
    services.plan_for(target="checkin", ids=[checkin.pk])
    client.force_login(UserFactory(username="root", is_superuser=True))
    changelist = reverse("admin:reminders_reminder_changelist")
    rows = Reminder.objects.filter(checkin=checkin)
    opted_out = rows.get(channel="sms", kind="day_before")
    Reminder.objects.filter(pk=opted_out.pk).update(status="suppressed", status_reason="opted_out")

    def listed(**filters) -> set[int]:
        page = client.get(changelist, filters)
        assert page.status_code == 200
        return {row.pk for row in page.context["cl"].result_list}

    assert len(listed()) == rows.count() > 2
    assert listed(status__exact="pending", channel__exact="sms") == {rows.get(channel="sms", kind="morning_of").pk}
    assert listed(status_reason__exact="opted_out") == {opted_out.pk}
    assert listed(channel__exact="email") == set(rows.filter(channel="email").values_list("pk", flat=True))
    assert listed(status__exact="sent") == set()
    row = Reminder.objects.first()
    assert client.get(reverse("admin:reminders_reminder_change", args=[row.pk])).status_code == 200
    assert client.get(reverse("admin:reminders_reminder_add")).status_code == 403
    for name in ("followupitem", "pushdevice", "smsoptout", "sitemessagingprofile"):
        assert client.get(reverse(f"admin:reminders_{name}_changelist")).status_code == 200


def test_a_follow_up_is_opened_and_resolved_by_staff():
    item = services.open_follow_up(
        program=ProgramFactory(iop=True), patient=PatientFactory(), kind="help_requested", urgency="urgent"
    )
    assert item.status == FollowUpItem.Status.OPEN
    staff = UserFactory()
    item = services.resolve_follow_up(item=item, resolved_by=staff, note="Called back, booked a visit")
    assert (item.status, item.resolved_by, item.resolved_at is not None) == ("resolved", staff, True)
    with pytest.raises(InvalidInput, match="already resolved"):
        services.resolve_follow_up(item=item, resolved_by=staff)
    with pytest.raises(InvalidInput):
        services.open_follow_up(program=item.program, patient=item.patient, kind="gossip")


def test_the_database_keeps_resolution_and_resolver_together():
    item = services.open_follow_up(program=ProgramFactory(), patient=PatientFactory(), kind="missed_sessions")
    with pytest.raises(IntegrityError, match="followup_resolved_iff_resolver"), transaction.atomic():
        FollowUpItem.objects.filter(pk=item.pk).update(status="resolved")
