from django.contrib import admin

from clinic.admin_base import ReadOnlyAdmin, ReadOnlyInline, ScopedAdminMixin
from clinic.models import AuditCategory
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


@admin.register(Site)
class SiteAdmin(ScopedAdminMixin, admin.ModelAdmin):
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


class PlacementAdminBase(ScopedAdminMixin, ReadOnlyAdmin):
    audit_category = AuditCategory.CLINICAL
    list_display = ["patient", "program", "start_on", "planned_end_on", "ended_on", "end_reason", "status_label"]
    list_filter = ["program__site", "program", "end_reason"]
    search_fields = ["patient__mrn", "patient__legal_last_name", "patient__legal_first_name", "bed__label"]
    list_select_related = ["patient", "program__site", "bed"]
    date_hierarchy = "start_on"

    @admin.display(description="status")
    def status_label(self, obj: Placement) -> str:
        return obj.status.label


@admin.register(ResidentialStay)
class ResidentialStayAdmin(PlacementAdminBase):
    list_display = [*PlacementAdminBase.list_display[:2], "bed", *PlacementAdminBase.list_display[2:]]


@admin.register(IOPEnrollment)
class IOPEnrollmentAdmin(PlacementAdminBase):
    pass


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
    list_filter = ["disposition", "ended_placement__program__site"]
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
    list_display = ["plan", "offset_days", "due_on", "status"]
    list_filter = ["status", "offset_days"]
    search_fields = ["plan__patient__mrn", "plan__patient__legal_last_name"]
    list_select_related = ["plan__patient"]
    date_hierarchy = "due_on"
