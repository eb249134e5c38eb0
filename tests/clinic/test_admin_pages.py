"""Every registered admin page renders for staff with the demo clinic loaded."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MODELS = [model for model in admin.site._registry if model._meta.app_label in {"patients", "programs", "scheduling"}]


@pytest.fixture(scope="module")
def demo_clinic(django_db_setup, django_db_blocker):
    """Seeded once for the module (the seed now includes twelve weeks of schedules), then flushed."""
    with django_db_blocker.unblock():
        call_command("seed_demo", "--no-progress", "--patients", "20")
        call_command("seed_fhir_demo")  # as `make run` does: a registered hospital and a Part 2 consent
    yield
    with django_db_blocker.unblock():
        call_command("flush", "--no-input")


@pytest.fixture
def admin_client_with_demo(demo_clinic, client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_changelist_search_and_change_pages_render(admin_client_with_demo, model):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    assert admin_client_with_demo.get(changelist).status_code == 200
    assert admin_client_with_demo.get(changelist, {"q": "Rivera"}).status_code == 200
    obj = model._default_manager.first()
    assert obj is not None, f"the demo data has no {opts.verbose_name}"
    change = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    assert admin_client_with_demo.get(change).status_code == 200


def test_history_cannot_be_added_or_deleted_through_the_admin(admin_client_with_demo):
    assert admin_client_with_demo.get(reverse("admin:programs_transition_add")).status_code == 403
    assert admin_client_with_demo.get(reverse("admin:scheduling_attendancerecord_add")).status_code == 403


def test_a_series_added_in_the_admin_goes_through_the_service(admin_client_with_demo):
    from programs.models import Program
    from scheduling.models import SessionSeries

    program = Program.objects.filter(name="Riverside Evening IOP").get()
    form = {"program": program.pk, "name": "Saturday family session", "kind": "family_session", "room": "Room 5",
            "start_time": "10:00", "duration_minutes": "90", "facilitator": program.session_series.first().facilitator_id,  # noqa: E501
            "capacity": "8", "starts_on": "2027-01-02", "books_enrolled": "on"}  # fmt: skip

    refused = admin_client_with_demo.post(reverse("admin:scheduling_sessionseries_add"), {**form, "rule": "FREQ=NEVER"})
    assert refused.status_code == 200 and "The repeat rule could not be read" in refused.content.decode()
    assert not SessionSeries.objects.filter(name="Saturday family session").exists()

    added = admin_client_with_demo.post(
        reverse("admin:scheduling_sessionseries_add"), {**form, "rule": "FREQ=WEEKLY;BYDAY=SA"}
    )
    assert added.status_code == 302
    assert SessionSeries.objects.get(name="Saturday family session").generated_until is not None
