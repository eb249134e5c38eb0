import datetime as dt

from django.contrib import admin

from clinic import access, clock
from clinic.admin_base import ReadOnlyAdmin, ReadOnlyInline, ScopedAdminMixin
from clinic.models import AuditCategory
from programs import admin_board, admin_worklists, selectors
from programs.models import (
    AftercareCheckIn,
    AftercarePlan,
    Bed,
    Discharge,
    IOPEnrollment,
    Placement,
    Program,
    ResidentialStay,
    Reversal,
    Site,
    StayExtension,
    Transition,
    TreatmentEpisode,
)
from reminders.forms import SiteForm
from scheduling import admin_worklists as schedule_worklists
from scheduling import selectors as schedule


@admin.register(Site)
class SiteAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = SiteForm  # its address and phone reach patients: checked for words that reveal the care
    list_display = ["name", "code", "time_zone", "phone"]
    search_fields = ["name", "code"]
    prepopulated_fields = {"code": ["name"]}


class BedInline(admin.TabularInline):
    model = Bed
    extra = 0
    fields = ["label", "status"]


@admin.register(Program)
class ProgramAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "site", "asam_level", "capacity", "time_zone", "is_active"]
    list_filter = ["site", "asam_level", "is_active"]
    search_fields = ["name", "site__name"]
    inlines = [BedInline]
    fieldsets = [
        (None, {"fields": ["site", "name", "asam_level", "capacity", "time_zone", "is_active"]}),
        ("Residential rules", {"fields": [("residential_min_days", "residential_max_days")]}),
        (
            "IOP weekly hours",
            {"fields": [("iop_min_weekly_hours_adult", "iop_min_weekly_hours_adolescent", "iop_max_weekly_hours")]},
        ),
        ("Aftercare", {"fields": ["aftercare_checkin_offsets"]}),
    ]


@admin.register(Bed)
class BedAdmin(ScopedAdminMixin, admin.ModelAdmin):
    list_display = ["label", "program", "status"]
    list_filter = ["status", "program__site", "program"]
    search_fields = ["label", "program__name"]
    list_select_related = ["program__site"]

    def get_urls(self):
        # The bed board (issue 12): per residential program and for all of a user's sites.
        return [*admin_board.board_urls(self), *super().get_urls()]


class PlacementInline(ReadOnlyInline):
    model = Placement
    fields = ["kind", "program", "bed", "start_on", "planned_end_on", "ended_on", "end_reason", "cancelled_at"]
    fk_name = "episode"


class TransitionInline(ReadOnlyInline):
    model = Transition
    fields = ["kind", "effective_on", "reason", "decided_by", "created_at"]


class DischargeInline(ReadOnlyInline):
    model = Discharge
    fields = ["effective_on", "disposition", "decided_by", "created_at"]


@admin.register(TreatmentEpisode)
class TreatmentEpisodeAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.CLINICAL
    clinical_inlines = (TransitionInline, DischargeInline)
    list_display = ["patient", "status", "started_on", "ended_on"]
    list_filter = ["status", "placements__program__site"]
    search_fields = ["patient__mrn", "patient__legal_last_name", "patient__legal_first_name"]
    list_select_related = ["patient"]
    date_hierarchy = "started_on"
    inlines = [PlacementInline, TransitionInline, DischargeInline]


class WorklistFilter(admin.SimpleListFilter):
    """The dashboard's figures as list filters: a figure links here, so both use the same selector."""

    title = "worklist"
    parameter_name = "worklist"
    worklists: dict = {}

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.worklists.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.worklists:
            return queryset
        _, select = self.worklists[self.value()]
        return queryset.filter(pk__in=select(clock.today()).values("pk"))


def _this_week(today: dt.date) -> tuple[dt.date, dt.date]:
    start = today - dt.timedelta(days=today.weekday())
    return start, start + dt.timedelta(days=7)


class PlacementWorklistFilter(WorklistFilter):
    worklists = {
        "active": ("In care today", lambda on: Placement.objects.on(on)),
        "admitted_week": (
            "Admitted this week",
            lambda on: selectors.admissions_between(start=_this_week(on)[0], end=_this_week(on)[1]),
        ),
        "approaching": ("Nearing planned discharge or maximum", lambda on: selectors.stays_approaching_end(on=on)),
        "step_down_due": ("Due a step-down decision", lambda on: selectors.stays_due_step_down_decision(on=on)),
    }


class CheckInWorklistFilter(WorklistFilter):
    worklists = {
        "due": ("Due in the next 7 days", lambda on: selectors.checkins_due(on=on)),
        "missed": ("Missed", lambda on: selectors.checkins_missed(on=on)),
    }


class DischargeWorklistFilter(WorklistFilter):
    worklists = {
        "week": (
            "This week",
            lambda on: selectors.discharges_between(start=_this_week(on)[0], end=_this_week(on)[1]),
        ),
    }


class PlacementAdminBase(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.CLINICAL
    list_display = ["patient", "program", "start_on", "planned_end_on", "ended_on", "end_reason", "status_label"]
    list_filter = [PlacementWorklistFilter, "program__site", "program", "end_reason"]
    search_fields = ["patient__mrn", "patient__legal_last_name", "patient__legal_first_name", "bed__label"]
    list_select_related = ["patient", "program__site", "bed"]
    date_hierarchy = "start_on"

    @admin.display(description="status")
    def status_label(self, obj: Placement) -> str:
        return obj.status.label


@admin.register(ResidentialStay)
class ResidentialStayAdmin(PlacementAdminBase):
    list_display = [*PlacementAdminBase.list_display[:2], "bed", *PlacementAdminBase.list_display[2:]]

    def get_urls(self):
        # The step-down and nearing-discharge worklists (issue 12).
        return [*admin_worklists.stay_worklist_urls(self), *super().get_urls()]


# --- Staff admin panel (issue 6): IOP attendance worklists behind the dashboard's figures -----------
class IOPWorklistFilter(PlacementWorklistFilter):
    """The placement worklists plus weekly hours and absences, computed over the user's programs as the
    dashboard computes them (``select(on, programs)``), so a figure and its list agree for every role."""

    schedule_worklists = {
        "below_minimum_scheduled": (
            "Below the weekly minimum (scheduled, this week)",
            lambda on, programs: schedule.iop_below_minimum(basis="scheduled", programs=programs),
        ),
        "below_minimum_attended": (
            "Below the weekly minimum (attended, last week)",
            lambda on, programs: schedule.iop_below_minimum(
                basis="attended", week_of=on - dt.timedelta(days=7), programs=programs
            ),
        ),
        "consecutive_absences": (
            "Consecutive absences",
            lambda on, programs: schedule.iop_consecutive_absences(programs=programs),
        ),
    }

    def lookups(self, request, model_admin):
        return [*super().lookups(request, model_admin), *((k, v[0]) for k, v in self.schedule_worklists.items())]

    def queryset(self, request, queryset):
        if self.value() in self.schedule_worklists:
            _, select = self.schedule_worklists[self.value()]
            programs = access.visible_programs(request.user)
            return queryset.filter(pk__in=select(clock.today(), programs).values("pk"))
        return super().queryset(request, queryset)


@admin.register(IOPEnrollment)
class IOPEnrollmentAdmin(PlacementAdminBase):
    list_filter = [IOPWorklistFilter, *PlacementAdminBase.list_filter[1:]]

    def get_urls(self):
        # The below-minimum and missed-sessions worklists and booking from them (issue 12).
        return [*schedule_worklists.enrollment_worklist_urls(self), *super().get_urls()]


@admin.register(StayExtension)
class StayExtensionAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.CLINICAL
    clinical_fields = ("reason",)
    list_display = ["stay", "previous_planned_end_on", "new_planned_end_on", "approved_by", "approved_at"]
    search_fields = ["stay__patient__mrn", "stay__patient__legal_last_name"]
    list_select_related = ["stay__program", "approved_by"]


@admin.register(Transition)
class TransitionAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.CLINICAL
    clinical_fields = ("reason",)
    list_display = ["episode", "kind", "effective_on", "decided_by", "reversed"]
    list_filter = ["kind", "from_placement__program__site"]
    search_fields = ["episode__patient__mrn", "episode__patient__legal_last_name"]
    list_select_related = ["episode__patient", "decided_by", "reversal"]
    date_hierarchy = "effective_on"

    @admin.display(boolean=True)
    def reversed(self, obj: Transition) -> bool:
        return hasattr(obj, "reversal")


@admin.register(Discharge)
class DischargeAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.CLINICAL
    clinical_fields = ("disposition", "notes")
    list_display = ["episode", "effective_on", "disposition", "decided_by"]
    list_filter = [DischargeWorklistFilter, "disposition", "ended_placement__program__site"]
    search_fields = ["episode__patient__mrn", "episode__patient__legal_last_name"]
    list_select_related = ["episode__patient", "decided_by"]
    date_hierarchy = "effective_on"


@admin.register(Reversal)
class ReversalAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.CLINICAL
    clinical_fields = ("reason",)
    list_display = ["__str__", "reversed_by", "created_at"]
    list_select_related = ["transition", "discharge", "reversed_by"]


class CheckInInline(ReadOnlyInline):
    model = AftercareCheckIn
    fields = ["offset_days", "due_on", "status", "completed_at"]


@admin.register(AftercarePlan)
class AftercarePlanAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.CLINICAL
    clinical_fields = ("notes",)
    list_display = ["patient", "program", "starts_on", "status"]
    list_filter = ["status", "program__site"]
    search_fields = ["patient__mrn", "patient__legal_last_name"]
    list_select_related = ["patient", "program__site"]
    inlines = [CheckInInline]


@admin.register(AftercareCheckIn)
class AftercareCheckInAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.CLINICAL
    # The patient's answer from the app is clinical: hidden from front desk on every page.
    clinical_fields = ("mood", "answer_text", "needs_help", "answered_at", "contacted_by", "contact_note")
    fields = ["plan", "offset_days", "due_on", "status", "completed_at", *clinical_fields]
    list_display = ["plan", "offset_days", "due_on", "status", "needs_help"]
    list_filter = [CheckInWorklistFilter, "status", "offset_days", "needs_help"]
    search_fields = ["plan__patient__mrn", "plan__patient__legal_last_name"]
    list_select_related = ["plan__patient"]
    date_hierarchy = "due_on"

    def get_urls(self):
        # The aftercare worklists and recording a contact from them (issue 12).
        return [*admin_worklists.checkin_worklist_urls(self), *super().get_urls()]
