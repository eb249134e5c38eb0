"""Refusals and missing pages inside the admin's frame, with a way back (issue 12)."""

import uuid

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_a_refusal_is_a_styled_page_with_a_way_back(client, front_desk, bed):
    client.force_login(front_desk)

    response = client.get(reverse("admin:programs_bed_admit", args=[bed.public_id]))

    assert response.status_code == 403
    page = response.content.decode()
    assert "This page is not part of your role" in page and 'id="site-name"' in page
    assert f'href="{reverse("admin:index")}"' in page and "Back to today at the clinic" in page


def test_a_missing_page_is_a_styled_page_with_a_way_back(client, site_clinician):
    client.force_login(site_clinician)

    response = client.get(reverse("admin:programs_bed_board_program", args=[uuid.uuid4()]))

    assert response.status_code == 404
    page = response.content.decode()
    assert "Nothing here" in page and "Back to today at the clinic" in page and 'id="patient-search"' in page
