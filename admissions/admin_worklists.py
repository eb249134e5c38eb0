"""The admissions worklists (issue 12): waiting for admission, reservations expiring, referrals not contacted.

The dashboard's three waitlist figures open these lists instead of the stock referral and
reservation lists: each with the columns that decide the job and the step it needs (reserve a bed or
admit to it, extend or release a reservation, record the first contact). The steps are the admissions
admin's own forms (``admin.REFERRAL_STEPS``, ``admin.RESERVATION_STEPS``), which call the services and
come back here; a role that may not take a step gets no button, and the step's URL answers 403.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.urls import path, reverse

from admissions import selectors
from admissions.models import Referral, Reservation
from clinic import access, clock, localtime
from clinic.models import AuditCategory
from clinic.worklist import Row, Worklist, action_for, day, days, list_view, register_titles, staff_name

VIEW_REFERRALS = "admissions.view_referral"
VIEW_RESERVATIONS = "admissions.view_reservation"
RESERVE = "admissions.add_reservation"
ADMIT = "programs.add_placement"
CHANGE_REFERRAL = "admissions.change_referral"
CHANGE_RESERVATION = "admissions.change_reservation"

WAITING = "admin:admissions_worklist_waiting"
EXPIRING = "admin:admissions_worklist_expiring"
NOT_CONTACTED = "admin:admissions_worklist_not_contacted"

WAITING_TITLE = "Waiting for admission"
EXPIRING_TITLE = "Reservations expiring in 48 h"
NOT_CONTACTED_TITLE = "Referrals not contacted in 2 days"
# A step opened from one of these lists names it in its breadcrumb.
register_titles({WAITING: WAITING_TITLE, EXPIRING: EXPIRING_TITLE, NOT_CONTACTED: NOT_CONTACTED_TITLE})


def _step(obj: Model, slug: str) -> str:
    return reverse(f"admin:admissions_{obj._meta.model_name}_step", args=[obj.pk, slug])


def _row(referral: Referral, **kwargs) -> Row:
    # A new referral may name a person who is not a patient yet: the row names them without a chart link.
    return Row(patient=referral.patient, person=referral.display_name, program=referral.program, **kwargs)


def _source(referral: Referral) -> str:
    source = referral.get_source_display()
    return f"{source} · {referral.referrer_name}" if referral.referrer_name else source


def _hours_left(expires_at: dt.datetime, now: dt.datetime) -> str:
    seconds = (expires_at - now).total_seconds()
    return "under an hour" if seconds < 3600 else f"{round(seconds / 3600)} h"


def _held(reservation: Reservation) -> str:
    return f"Bed {reservation.bed.label}" if reservation.bed else "A seat"


def _reservation(reservation: Reservation | None) -> str:
    if reservation is None:
        return "none"
    where = _held(reservation)
    expires = localtime.when(reservation.expires_at, reservation.program.time_zone)
    return f"{where} from {day(reservation.start_on)}, held until {expires}"


# --- Waiting for admission ------------------------------------------------------------------------


def waiting_worklist(request: HttpRequest) -> Worklist:
    """Accepted referrals on the waitlist, most urgent first, with the reservation that holds a place if any."""
    user, now = request.user, clock.now()
    back = reverse(WAITING)
    referrals = list(
        selectors.waiting(sites=access.visible_sites(user))
        .select_related("patient", "program__site")
        .order_by("priority", "accepted_at", "id")
    )
    held = {
        reservation.referral_id: reservation
        for reservation in selectors.held_reservations(now=now)
        .filter(referral__in=[referral.pk for referral in referrals])
        .select_related("bed", "program")
    }
    rows = []
    for referral in referrals:
        program = referral.program
        reservation = held.get(referral.pk)
        if reservation is not None:
            label = "Admit to the bed" if reservation.bed_id else "Enroll"
            actions = action_for(user.has_perm(ADMIT), label, _step(reservation, "admit"), back=back)
        else:
            label = "Reserve a bed" if program.is_residential else "Reserve a seat"
            actions = action_for(user.has_perm(RESERVE), label, _step(referral, "reserve"), back=back)
        waited = selectors.days_waiting(referral, today=clock.local_today(program.time_zone))
        rows.append(
            _row(
                referral,
                cells=[
                    days(waited),
                    referral.get_requested_level_display(),
                    _source(referral),
                    str(referral.priority),
                    _reservation(reservation),
                ],
                actions=actions,
                key=str(referral.public_id),
            )
        )
    return Worklist(
        slug="admissions-waiting",
        title=WAITING_TITLE,
        intro="Referrals accepted onto a waitlist, by priority (1 first) then the day accepted: reserve a bed or "
        "a seat, or admit the patient whose place is held.",
        columns=["Days waiting", "Level wanted", "Referred by", "Priority", "Reservation"],
        rows=rows,
        empty="Nobody is waiting for admission at your sites.",
    )


# --- Reservations expiring in 48 hours ------------------------------------------------------------


def expiring_worklist(request: HttpRequest) -> Worklist:
    user, now = request.user, clock.now()
    back = reverse(EXPIRING)
    may_change = user.has_perm(CHANGE_RESERVATION)
    reservations = (
        selectors.reservations_expiring(now=now, sites=access.visible_sites(user))
        .select_related("patient", "program__site", "bed", "created_by")
        .order_by("expires_at", "id")
    )
    rows = []
    for reservation in reservations:
        zone = reservation.program.time_zone
        rows.append(
            Row(
                patient=reservation.patient,
                program=reservation.program,
                cells=[
                    _held(reservation),
                    day(reservation.start_on),
                    localtime.when(reservation.expires_at, zone),
                    _hours_left(reservation.expires_at, now),
                    staff_name(reservation.created_by),
                ],
                actions=[
                    *action_for(may_change, "Extend", _step(reservation, "extend"), back=back),
                    *action_for(may_change, "Release", _step(reservation, "cancel"), back=back),
                ],
                key=str(reservation.public_id),
            )
        )
    return Worklist(
        slug="reservations-expiring",
        title=EXPIRING_TITLE,
        intro="Beds and seats held for a waitlisted patient whose hold lapses within 48 hours (in the program's "
        "local time): extend the hold, or release it so the bed goes to someone else.",
        columns=["Held", "From", "Expires", "Time left", "Reserved by"],
        rows=rows,
        empty="No reservation expires in the next 48 hours.",
    )


# --- Referrals not contacted in 2 days ------------------------------------------------------------


def not_contacted_worklist(request: HttpRequest) -> Worklist:
    user, now = request.user, clock.now()
    back = reverse(NOT_CONTACTED)
    may_contact = user.has_perm(CHANGE_REFERRAL)
    referrals = (
        selectors.referrals_not_contacted(now=now, sites=access.visible_sites(user))
        .select_related("patient", "program__site")
        .order_by("created_at", "id")
    )
    rows = []
    for referral in referrals:
        zone = referral.program.time_zone
        waited = (localtime.local_date(now, zone) - localtime.local_date(referral.created_at, zone)).days
        rows.append(
            _row(
                referral,
                cells=[
                    day(referral.referred_on),
                    days(waited),
                    _source(referral),
                    referral.phone or "—",
                ],
                actions=action_for(may_contact, "Record contact", _step(referral, "screen"), back=back),
                key=str(referral.public_id),
            )
        )
    return Worklist(
        slug="referrals-not-contacted",
        title=NOT_CONTACTED_TITLE,
        intro="New referrals recorded more than two days ago whom nobody has contacted yet, the oldest first: call, "
        "then record the contact (screening starts).",
        # No "last contact" column: nobody has contacted anyone on this list, by its definition.
        columns=["Referred", "Waiting", "Referred by", "Phone"],
        rows=rows,
        empty="Every new referral has been contacted within two days.",
    )


# --- Views and URLs, hooked into the referral and reservation admins' URLs --------------------------


def referral_worklist_urls(model_admin: admin.ModelAdmin) -> list:
    return [
        path(
            "worklist/waiting/",
            list_view(model_admin, permission=VIEW_REFERRALS, build=waiting_worklist, category=AuditCategory.CLINICAL),
            name="admissions_worklist_waiting",
        ),
        path(
            "worklist/not-contacted/",
            list_view(
                model_admin, permission=VIEW_REFERRALS, build=not_contacted_worklist, category=AuditCategory.CLINICAL
            ),
            name="admissions_worklist_not_contacted",
        ),
    ]


def reservation_worklist_urls(model_admin: admin.ModelAdmin) -> list:
    return [
        path(
            "worklist/expiring/",
            list_view(
                model_admin, permission=VIEW_RESERVATIONS, build=expiring_worklist, category=AuditCategory.SCHEDULE
            ),
            name="admissions_worklist_expiring",
        ),
    ]
