"""Every registered admin page renders for staff with the demo clinic loaded."""

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MODELS = [model for model in admin.site._registry if model._meta.app_label in {"patients", "programs"}]


@pytest.fixture
def admin_client_with_demo(client):
    call_command("seed_demo", "--no-progress", "--patients", "20")
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
