"""The admin's front page: figures for today, each equal to the list it links to."""

import datetime as dt
import html
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils.text import slugify

from clinic.access import Role
from programs import services
from programs.selectors import daily_census
from tests.factories import BedFactory, PatientFactory, ProgramFactory, SiteFactory, UserFactory, staff_member

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
    if "summary" in response.context:
        return response.context["summary"]["occupied"]  # a residential program's bed board (issue 12)
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


# The figures of a clinical shift (issue 12), the reminders' delivery and utilization review: every one opens
# a worklist.
SHIFT_FIGURES = {
    "Admissions this week", "Discharges this week", "Stays nearing planned discharge or program maximum",
    "Due a step-down decision", "Aftercare check-ins due", "Aftercare check-ins missed", "Open follow-up items",
    "Today's sessions", "Sessions awaiting attendance", "IOP below weekly minimum, scheduled this week",
    "IOP below weekly minimum, attended last week", "Consecutive absences",
    "Waiting for admission", "Reservations expiring in 48 h", "Referrals not contacted in 2 days",
    "Reminders sent today", "Reminders late", "Reminders failed",
    "UR reviews due", "Authorizations ending", "Levels of care with days not covered", "Denials awaiting follow-up",
    "Stepped down, needs authorization",
}  # fmt: skip
# A stock changelist: /admin/<app>/<model>/, with or without a query.
STOCK_CHANGELIST = re.compile(r"^/admin/\w+/\w+/(\?.*)?$")
CARD = re.compile(r'<a class="card[^"]*" href="([^"]*)" data-figure="([^"]*)"')


def test_a_shift_figure_opens_a_worklist_not_a_stock_list(staff_client):
    board = staff_client.get(reverse("admin:index")).context["dashboard"]

    shift = [figure for figure in [*board.figures, *board.schedule] if figure.label in SHIFT_FIGURES]
    assert {f.label for f in shift} == SHIFT_FIGURES
    for figure in shift:
        response = staff_client.get(figure.url)
        assert "worklist" in response.context and "cl" not in response.context, figure.label


def test_no_shift_figure_or_census_card_links_to_a_stock_changelist(staff_client):
    page = staff_client.get(reverse("admin:index"))
    board = page.context["dashboard"]

    links = {figure: html.unescape(href) for href, figure in CARD.findall(page.content.decode())}
    census = {f"census-{row['program'].pk}" for row in board.census}
    shift = {slugify(label) for label in SHIFT_FIGURES}
    assert census and census <= set(links) and shift <= set(links)
    for figure in census | shift:
        assert not STOCK_CHANGELIST.match(links[figure]), (figure, links[figure])
    # The check itself tells a stock list from a worklist.
    assert STOCK_CHANGELIST.match(reverse("admin:admissions_referral_changelist") + "?worklist=waiting")
    assert not STOCK_CHANGELIST.match(reverse("admin:admissions_worklist_waiting"))
    assert STOCK_CHANGELIST.match(reverse("admin:utilization_authorization_changelist") + "?worklist=denials")
    assert not STOCK_CHANGELIST.match(reverse("admin:utilization_worklist", args=["denials"]))


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


def _plotted(chart: dict, series: str) -> list[int]:
    """The values behind the chart's polyline (the y of each point, scaled back by the chart's maximum)."""
    height = chart["height"]
    ys = [float(point.split(",")[1]) for point in chart[series].split()]
    return [round((height - y) / (height - 10) * chart["max"]) for y in ys]


def test_the_chart_plots_each_days_census_and_a_step_down_day_once(client, today):
    """A site of its own, every number counted by hand: the chart's points are these values, day by day."""
    site = SiteFactory(name="Harbor House", code="harbor-chart")
    residential = ProgramFactory(site=site, name="Harbor Residential")
    iop = ProgramFactory(site=site, iop=True, name="Harbor IOP")
    first_bed, second_bed = BedFactory(program=residential), BedFactory(program=residential)
    clinician = staff_member(role=Role.CLINICIAN, sites=[site], username="harbor.clinician")
    day = lambda n: today - dt.timedelta(days=n)  # noqa: E731
    # Ana: residential from day -10, stepped down to IOP on day -3. Ben: residential from day -5.
    ana = services.admit_to_residential(
        patient=PatientFactory(), bed=first_bed, admitted_on=day(10), admitted_by=clinician
    )
    services.step_down(stay=ana, to_program=iop, on=day(3), reason="Stable", decided_by=clinician)
    services.admit_to_residential(patient=PatientFactory(), bed=second_bed, admitted_on=day(5), admitted_by=clinician)

    residential_by_day = [0] * 19 + [1] * 5 + [2] * 2 + [1] * 4  # days -29 .. 0
    outpatient_by_day = [0] * 26 + [1] * 4  # the step-down day (-3) counts once, in IOP
    rows = daily_census(start=day(29), end=today, sites=[site])
    assert [r for _, r, _ in rows] == residential_by_day
    assert [o for _, _, o in rows] == outpatient_by_day
    assert rows[26] == (day(3), 1, 1)

    client.force_login(clinician)
    chart = client.get(reverse("admin:index")).context["dashboard"].chart
    assert _plotted(chart, "residential") == residential_by_day
    assert _plotted(chart, "outpatient") == outpatient_by_day
    assert (chart["today_residential"], chart["today_outpatient"]) == (1, 1)


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


def test_todays_sessions_are_those_of_the_clinicians_site_only(staff_client, client):
    """Both sites hold a session today (any weekday, any hour), so the list shown is not empty by chance."""
    from django.contrib.auth import get_user_model

    from clinic import clock
    from programs.models import Program, Site
    from scheduling import services as schedule
    from scheduling.models import SessionKind

    demo_clinician = get_user_model().objects.get(username="demo.clinician")
    for site in (Site.objects.get(code="riverside"), Site.objects.exclude(code="riverside").first()):
        program = Program.objects.filter(site=site, is_active=True).first()
        local_today = clock.local_today(program.time_zone)
        series = schedule.create_series(
            program=program, name=f"Daily check-in {site.code}", kind=SessionKind.GROUP_THERAPY,
            rule="FREQ=DAILY", start_time=dt.time(12, 0), duration_minutes=60, facilitator=demo_clinician,
            capacity=10, starts_on=local_today, books_enrolled=False,
        )  # fmt: skip
        schedule.generate_sessions(series_ids=[series.pk], from_on=local_today)
    everywhere = staff_client.get(reverse("admin:index")).context["dashboard"].sessions_today
    client.force_login(demo_clinician)
    mine = client.get(reverse("admin:index")).context["dashboard"].sessions_today

    assert len({s.series.program.site.code for s in everywhere}) >= 2
    assert mine and [s.pk for s in mine] == [s.pk for s in everywhere if s.series.program.site.code == "riverside"]


HREF = re.compile(r'href="([^"]*)"')


def _content_links(client, url: str) -> set[str]:
    """The links a page offers inside the admin's content area (not its header or the frame's app list)."""
    page = client.get(url)
    assert page.status_code == 200, url
    text = page.content.decode()
    content = text[text.index('<div id="content"') : text.index('<footer id="footer"')]
    return {html.unescape(href).split("#")[0] for href in HREF.findall(content)}


def test_a_shift_runs_from_pages_that_link_to_no_stock_list(staff_client, today):
    """Every page of a shift (each figure's worklist, each census card's board or roster, a chart) offers its
    next steps as worklists, boards, workflows and charts: none of its own links is a stock changelist."""
    page = staff_client.get(reverse("admin:index"))
    board = page.context["dashboard"]
    start = [html.unescape(href) for href, _figure in CARD.findall(page.content.decode())]
    patient = next(row["program"].placements.on(today).first().patient for row in board.census if row["patients"])
    pages = set(start) | {reverse("admin:patients_patient_change", args=[patient.pk])}
    assert len(pages) > 20
    seen = 0
    for url in sorted(pages):
        links = _content_links(staff_client, url)
        seen += len(links)
        stock = {link for link in links if STOCK_CHANGELIST.match(link)}
        assert not stock, (url, stock)
    assert seen > 100  # rows' actions, tabs, charts: the pages were read, not empty
    # The check sees a stock list where there is one: the dashboard's "All records" app list has them.
    everything = {html.unescape(href) for href in HREF.findall(page.content.decode())}
    assert any(STOCK_CHANGELIST.match(link) for link in everything)
