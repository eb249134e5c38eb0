"""The admin's front page: figures for today, each equal to the list it links to."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.urls import reverse

from programs import services
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo_clinic(django_db_setup, django_db_blocker):
    """Seeded once for the module (a minute of work), then flushed; each test's changes roll back."""
    with django_db_blocker.unblock():
        call_command("seed_demo", "--no-progress", "--patients", "40")
    yield
    with django_db_blocker.unblock():
        call_command("flush", "--no-input")


@pytest.fixture
def staff_client(demo_clinic, client):
    client.force_login(UserFactory(username="root", is_superuser=True))
    return client


def _listed(client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    if "worklist" in response.context and "cl" not in response.context:
        return response.context["worklist"].counted  # a worklist page (issue 12)
    return response.context["cl"].result_count


def test_every_figure_links_to_a_list_of_exactly_that_many_rows(staff_client):
    board = staff_client.get(reverse("admin:index")).context["dashboard"]

    assert len(board.figures) >= 6
    for figure in [*board.figures, *board.schedule]:
        assert _listed(staff_client, figure.url) == figure.value, figure.label
    for row in board.census:
        expected = row["beds_occupied"] if row["beds_in_service"] else row["patients"]
        assert _listed(staff_client, row["url"]) == expected, row["program"].name
    assert any(figure.value for figure in board.figures), "the demo clinic should give non-zero figures"


def test_a_step_down_moves_the_patient_between_census_cards(staff_client, clinician, today):
    before = {row["program"].name: row["patients"] for row in staff_client.get("/admin/").context["dashboard"].census}
    board = staff_client.get(reverse("admin:index")).context["dashboard"]
    residential = next(r["program"] for r in board.census if r["program"].is_residential and r["patients"])
    iop = next(r["program"] for r in board.census if not r["program"].is_residential)
    stay = residential.placements.on(today).filter(start_on__lt=today).first()

    services.step_down(stay=stay, to_program=iop, on=today, reason="Stable", decided_by=clinician)

    after = {row["program"].name: row["patients"] for row in staff_client.get("/admin/").context["dashboard"].census}
    assert after[residential.name] == before[residential.name] - 1
    assert after[iop.name] == before[iop.name] + 1


def test_the_chart_covers_30_days(staff_client, today):
    chart = staff_client.get(reverse("admin:index")).context["dashboard"].chart
    assert chart["last"] == today and chart["first"] == today - dt.timedelta(days=29)
    assert len(chart["residential"].split()) == 30


def test_the_patient_page_shows_the_journey(staff_client):
    from programs.models import Transition

    transition = Transition.objects.filter(kind="step_up").select_related("episode__patient").first()
    page = staff_client.get(reverse("admin:patients_patient_change", args=[transition.episode.patient_id]))
    content = page.content.decode()
    assert "Journey" in content and "Step-up to" in content and transition.reason in content


# --- Staff admin panel (issue 6): sessions and attendance ---------------------------------------


def test_the_demo_clinic_shows_attendance_problems(staff_client):
    figures = {f.label: f.value for f in staff_client.get(reverse("admin:index")).context["dashboard"].schedule}

    assert figures["Consecutive absences"] > 0
    assert figures["IOP below weekly minimum, attended last week"] > 0


def test_schedule_figures_match_their_lists_for_a_clinician_at_one_site(staff_client, client):
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="demo.clinician"))
    board = client.get(reverse("admin:index")).context["dashboard"]

    for figure in [*board.figures, *board.schedule]:
        assert _listed(client, figure.url) == figure.value, figure.label
    assert {s.series.program.site.code for s in board.sessions_today} <= {"riverside"}
