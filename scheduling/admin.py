from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from clinic import audit, clock, localtime
from clinic.admin_base import ReadOnlyAdmin, ReadOnlyInline, ScopedAdminMixin
from clinic.errors import DomainError
from clinic.models import AuditAction, AuditCategory
from clinic.worklist import staff_name
from programs.admin import WorklistFilter
from scheduling import admin_views, selectors, services
from scheduling.admin_session_worklists import session_worklist_urls
from scheduling.models import AttendanceRecord, Booking, CalendarFeed, Closure, Session, SessionSeries


class ServiceAddAdmin(admin.ModelAdmin):
    """Rows created through a service (validation, generation, bookings), read-only afterwards."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        obj.pk = self.create_through_service(obj).pk

    def create_through_service(self, obj):  # pragma: no cover - each subclass says which service
        raise NotImplementedError


class SeriesForm(forms.ModelForm):
    class Meta:
        model = SessionSeries
        fields = ["program", "name", "kind", "rule", "start_time", "duration_minutes", "facilitator", "room",
                  "capacity", "starts_on", "ends_on", "books_enrolled"]  # fmt: skip

    def clean(self):
        data = super().clean()
        if not self.errors:
            try:
                services.validate_series(SessionSeries(**{name: data.get(name) for name in self.Meta.fields}))
            except DomainError as error:
                raise ValidationError(error.message) from error
        return data


@admin.register(SessionSeries)
class SessionSeriesAdmin(ScopedAdminMixin, ServiceAddAdmin):
    list_display = ["name", "program", "kind", "rule", "start_time", "duration_minutes", "facilitator_name", "room",
                    "capacity", "starts_on", "ends_on", "generated_until"]  # fmt: skip
    list_filter = ["kind", "books_enrolled", "program__site", "program"]
    search_fields = ["name", "program__name", "room", "facilitator__last_name"]
    list_select_related = ["program__site", "facilitator"]
    form = SeriesForm
    change_form_template = "admin/scheduling/sessionseries/change_form.html"

    @admin.display(description="facilitator", ordering="facilitator__last_name")
    def facilitator_name(self, obj: SessionSeries) -> str:
        return staff_name(obj.facilitator)

    def get_urls(self):
        return [*admin_views.series_urls(self), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        if request.user.has_perm(admin_views.CHANGE_SERIES):
            context["change_from_url"] = reverse("admin:scheduling_sessionseries_change_from", args=[object_id])
        return super().change_view(request, object_id, form_url, context)

    def create_through_service(self, obj: SessionSeries) -> SessionSeries:
        return services.create_series(
            program=obj.program,
            name=obj.name,
            kind=obj.kind,
            rule=obj.rule,
            start_time=obj.start_time,
            duration_minutes=obj.duration_minutes,
            facilitator=obj.facilitator,
            capacity=obj.capacity,
            starts_on=obj.starts_on,
            ends_on=obj.ends_on,
            room=obj.room,
            books_enrolled=obj.books_enrolled,
        )


@admin.register(Closure)
class ClosureAdmin(ScopedAdminMixin, ServiceAddAdmin):
    list_display = ["date", "site", "reason"]
    list_filter = ["site"]
    search_fields = ["reason", "site__name"]
    date_hierarchy = "date"
    list_select_related = ["site"]

    def create_through_service(self, obj: Closure) -> Closure:
        return services.add_closure(site=obj.site, date=obj.date, reason=obj.reason)


class BookingInline(ReadOnlyInline):
    model = Booking
    fields = ["patient", "source", "cancelled_at", "cancel_reason", "attendance", "minutes_attended"]


class SessionWorklistFilter(WorklistFilter):
    """Today's sessions and the ones still waiting for attendance: the dashboard's figures link here.

    Sessions are scoped by site (the mixin), exactly as the dashboard counts them.
    """

    worklists = {
        # Both follow each program's own clock rather than the server's date.
        "today": ("Today", lambda on: selectors.sessions_today()),
        "awaiting": ("Awaiting attendance", lambda on: selectors.sessions_awaiting_attendance()),
    }


class SessionWhenFilter(admin.SimpleListFilter):
    """The session list opens on today and later, each program on its own local today (issue 12).

    Not applied over a dashboard worklist (awaiting attendance is in the past), a date drill-down or
    a search: those choose their own sessions.
    """

    title = "when"
    parameter_name = "when"
    PAST, ALL = "past", "all"
    OVERRIDDEN_BY = ("worklist", "q", "local_date__year", "local_date__month", "local_date__day")

    def lookups(self, request, model_admin):
        return [(None, "Today and later"), (self.PAST, "Past"), (self.ALL, "All")]

    def choices(self, changelist):
        # Django's own "All" is the default choice here; ours are the three above.
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}, [])
                if lookup
                else changelist.get_query_string(remove=[self.parameter_name]),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == self.PAST:
            return selectors.sessions_before_today(queryset)
        if self.value() == self.ALL or any(request.GET.get(key) for key in self.OVERRIDDEN_BY):
            return queryset
        return selectors.sessions_from_today(queryset)


def _session_zone(session: Session) -> str:
    return session.series.program.time_zone


@admin.register(Session)
class SessionAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    # Times in the program's zone (with the zone when it is not the user's), facilitators by name.
    starts = localtime.admin_column("starts_at", zone=_session_zone, description="starts")
    list_display = ["series", starts, "status", "room", "facilitator_name", "booked_count", "capacity",
                    "moved"]  # fmt: skip
    list_filter = [SessionWhenFilter, SessionWorklistFilter, "status", "series__kind", "series__program__site",
                   "series__program"]  # fmt: skip
    change_form_template = "admin/scheduling/session/change_form.html"
    search_fields = ["series__name", "series__program__name", "room", "bookings__patient__legal_last_name"]
    list_select_related = ["series__program", "facilitator"]
    date_hierarchy = "local_date"
    inlines = [BookingInline]

    @admin.display(boolean=True)
    def moved(self, obj: Session) -> bool:
        return obj.is_moved

    @admin.display(description="facilitator", ordering="facilitator__last_name")
    def facilitator_name(self, obj: Session) -> str:
        return staff_name(obj.facilitator)

    def get_ordering(self, request):
        # Nearest first: upcoming sessions soonest first, past ones most recent first.
        past = request.GET.get(SessionWhenFilter.parameter_name) == SessionWhenFilter.PAST
        return ["-starts_at", "-id"] if past or request.GET.get("worklist") == "awaiting" else ["starts_at", "id"]

    # --- Staff admin panel (issue 6): attendance, cancel and move from the session's page ---
    @admin.display(description="attendance")
    def attendance_link(self, obj: Session) -> str:
        if obj.status != "scheduled" or obj.starts_at > clock.now():
            return ""
        url = reverse("admin:scheduling_session_attendance", args=[obj.pk])
        return format_html('<a class="button" href="{}">Take attendance</a>', url)

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        return [*columns, "attendance_link"] if request.user.has_perm(admin_views.TAKE_ATTENDANCE) else columns

    def get_urls(self):
        return [*session_worklist_urls(self), *admin_views.session_urls(self), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = dict(extra_context or {})
        session = self.get_object(request, object_id)
        if session is not None:
            context["session_tools"] = admin_views.session_tools(session=session, user=request.user)
            if request.method == "GET":
                # Sessions are scoped by site, so the mixin records nothing; the bookings inline lists patients.
                audit.record(
                    request,
                    action=AuditAction.VIEW,
                    category=AuditCategory.SCHEDULE,
                    patients=session.bookings.values_list("patient_id", flat=True),
                    obj=session,
                    detail="session and its bookings",
                )
        return super().change_view(request, object_id, form_url, context)

    def get_search_results(self, request, queryset, search_term):
        queryset, _ = super().get_search_results(request, queryset, search_term)
        return queryset.distinct(), False


class AttendanceRecordInline(ReadOnlyInline):
    model = AttendanceRecord
    fields = ["attendance", "minutes_attended", "previous_attendance", "reason", "recorded_by", "created_at"]
    show_change_link = False


@admin.register(Booking)
class BookingAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.SCHEDULE
    starts = localtime.admin_column(
        "starts_at", zone=lambda booking: booking.session.series.program.time_zone, description="starts"
    )
    list_display = ["patient", "session", starts, "source", "attendance", "minutes_attended", "cancelled_at",
                    "cancel_reason"]  # fmt: skip
    list_filter = ["source", "attendance", "cancel_reason", "session__series__program"]
    search_fields = ["patient__mrn", "patient__legal_last_name", "patient__legal_first_name", "session__series__name"]
    list_select_related = ["patient", "session__series__program"]
    date_hierarchy = "starts_at"
    inlines = [AttendanceRecordInline]


@admin.register(AttendanceRecord)
class AttendanceRecordAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.SCHEDULE
    list_display = ["booking", "attendance", "minutes_attended", "previous_attendance", "recorded_by", "created_at"]
    list_filter = ["attendance", "previous_attendance"]
    search_fields = ["booking__patient__mrn", "booking__patient__legal_last_name", "reason"]
    list_select_related = ["booking__patient", "booking__session__series__program", "recorded_by"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.SCHEDULE
    list_display = ["patient", "rotated_at", "revoked_at", "is_active"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["patient__mrn", "patient__legal_last_name"]
    list_select_related = ["patient"]
    exclude = ["token_hash"]
    actions = ["revoke"]

    @admin.display(boolean=True)
    def is_active(self, obj: CalendarFeed) -> bool:
        return obj.is_active

    @admin.action(description="Revoke the selected calendar feeds")
    def revoke(self, request, queryset) -> None:
        for feed in queryset.select_related("patient"):
            services.revoke_calendar_feed(patient=feed.patient)
        self.message_user(request, f"Revoked {queryset.count()} calendar feeds.")
