"""The page every worklist shares (issue 12): a table of patients with the columns that decide, and actions.

The apps build their rows from their own selectors and offer their own actions (the care-journey
workflows, booking a session, resolving a follow-up, recording a contact); this module only draws
them inside the stock admin's frame and records in the audit trail whom the page showed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import Resolver404, resolve, reverse

from clinic import audit
from clinic.localtime import day  # noqa: F401 - the worklists' one date format, imported from here
from clinic.models import AuditAction, AuditCategory


def days(n: int) -> str:
    return f"{n} day" if abs(n) == 1 else f"{n} days"


def staff_name(user) -> str:
    """A colleague as staff know them: their full name, the username only when no name is recorded."""
    if user is None:
        return ""
    return user.get_full_name() or user.get_username()


@dataclass
class Flag:
    text: str
    tone: str = "warn"  # "warn" draws the eye; "" is neutral


@dataclass
class Action:
    label: str
    url: str


def action_for(allowed: bool, label: str, url: str, *, back: str) -> list[Action]:
    """The row's action for a user who may take it (none otherwise); its page returns to ``back``.

    ``url`` may carry a query of its own (a form's prefilled fields).
    """
    return [Action(label, f"{url}{'&' if '?' in url else '?'}next={back}")] if allowed else []


# The worklists' titles by URL name ("admin:admissions_worklist_waiting"), so that a step's page opened from
# a list names that list in its breadcrumb. A title may depend on the URL's arguments (one URL, several tabs).
_TITLES: dict[str, str | Callable[..., str | None]] = {}


def register_titles(titles: dict[str, str | Callable[..., str | None]]) -> None:
    _TITLES.update(titles)


def title_of(url: str | None) -> str | None:
    """The title of the worklist at ``url`` (a ``?next=`` already checked to be a page of this admin), if any."""
    if not url:
        return None
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return None
    title = _TITLES.get(match.view_name)
    return title(**match.kwargs) if callable(title) else title


@dataclass
class Row:
    patient: object | None  # patients.models.Patient (select_related by the caller); None on a list of sessions
    program: object  # programs.models.Program, with its site
    cells: list[str]
    flags: list[Flag] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    key: str = ""  # a stable id for the row (data-row), for tests and scripts
    counted: bool = True  # counted by the dashboard figure that opens the list (extra rows are context)
    # A person who is not (yet) a patient, such as a new referral: named without a chart link or MRN.
    person: str = ""

    def label(self, columns: list[str]) -> None:
        self.labelled = list(zip(columns, self.cells, strict=True))


@dataclass
class Worklist:
    slug: str
    title: str
    intro: str
    columns: list[str]  # after "Patient" and "Program"
    rows: list[Row]
    empty: str = "Nothing on this list right now."
    tabs: list[tuple[str, str, bool]] = field(default_factory=list)  # (label, url, current)
    per_patient: bool = True  # False: a row is not a patient (a session); no Patient column, no patient audited
    show_program: bool = True  # False: one program's list (named in the title); no Program column

    @property
    def counted(self) -> int:
        """The rows the dashboard's figure counts: the two must agree."""
        return sum(1 for row in self.rows if row.counted)


def render(
    request: HttpRequest,
    model_admin: admin.ModelAdmin,
    worklist: Worklist,
    *,
    category: AuditCategory = AuditCategory.CLINICAL,
) -> TemplateResponse:
    """The worklist page, recording one audit row per patient shown (one INSERT for the page)."""
    for row in worklist.rows:
        row.label(worklist.columns)
    audit.record(
        request,
        action=AuditAction.VIEW,
        category=category,
        patients=sorted({row.patient.pk for row in worklist.rows if row.patient is not None}),
        detail=f"worklist {worklist.slug}",
    )
    context = {
        **model_admin.admin_site.each_context(request),
        "title": worklist.title,
        "worklist": worklist,
        "opts": model_admin.model._meta,
    }
    return TemplateResponse(request, "admin/clinic/worklist.html", context)


def tabs_of(lists: dict[str, tuple], url_name: str, current: str) -> list[tuple[str, str, bool]]:
    """One tab per list of a page whose URL names the list (``lists``: its key, then a tuple titled first)."""
    return [(entry[0], reverse(url_name, args=[key]), key == current) for key, entry in lists.items()]


def list_view(
    model_admin: admin.ModelAdmin,
    *,
    permission: str,
    build: Callable[..., Worklist],
    category: AuditCategory = AuditCategory.CLINICAL,
):
    """An admin view drawing the worklist ``build(request, **url_kwargs)`` for a user holding ``permission``."""

    def view(request: HttpRequest, **kwargs) -> HttpResponse:
        if not request.user.has_perm(permission):
            raise PermissionDenied
        return render(request, model_admin, build(request, **kwargs), category=category)

    return model_admin.admin_site.admin_view(view)
