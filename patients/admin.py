from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from clinic import access, audit, clock
from clinic.admin_base import ReadOnlyInline, ScopedAdminMixin
from clinic.models import AuditAction, AuditCategory
from patients import services
from patients.models import ConsentMeans, DisclosureConsent, MessagingConsentEvent, Patient
from programs import admin_workflows
from programs import selectors as program_selectors
from reminders import selectors as reminder_selectors
from scheduling import admin_views as schedule_panel


# --- Security (issue 7): consent history, shown read-only; written through services ----------
class MessagingConsentEventInline(ReadOnlyInline):
    model = MessagingConsentEvent
    fields = ["kind", "means", "at", "recorded_by"]
    show_change_link = False


class DisclosureConsentInline(ReadOnlyInline):
    model = DisclosureConsent
    fields = ["recipient", "purpose", "given_at", "expires_at", "means", "revoked_at"]
    show_change_link = False


@admin.register(Patient)
class PatientAdmin(ScopedAdminMixin, admin.ModelAdmin):
    audit_category = AuditCategory.DEMOGRAPHICS
    clinical_inlines = (DisclosureConsentInline,)
    inlines = [MessagingConsentEventInline, DisclosureConsentInline]
    actions = ["record_verbal_messaging_consent", "revoke_messaging_consent"]
    change_form_template = "admin/patients/patient/change_form.html"
    list_display = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "date_of_birth", "time_zone"]
    list_filter = ["confidential_communication", "sms_allowed", "time_zone"]
    search_fields = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "email", "phone"]
    # Consent changes only through the services, which keep its history.
    readonly_fields = [
        "public_id",
        "created_at",
        "updated_at",
        "messaging_consent_given_at",
        "messaging_consent_revoked_at",
    ]
    autocomplete_fields = ["user"]
    change_form_template = "admin/patients/patient/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "mrn",
                    "public_id",
                    ("legal_first_name", "legal_last_name"),
                    "preferred_name",
                    "date_of_birth",
                    "registered_site",
                ]
            },
        ),
        ("Contact", {"fields": ["phone", "email", "time_zone", "user"]}),
        (
            "Communication preferences",
            {
                "fields": [
                    ("sms_allowed", "email_allowed", "push_allowed"),
                    ("messaging_consent_given_at", "messaging_consent_revoked_at"),
                    ("quiet_hours_start", "quiet_hours_end"),
                    "confidential_communication",
                    "confidential_instructions",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        # Linking a login to a patient is an account decision, kept to superusers.
        return fields if request.user.is_superuser else [*fields, "user"]

    @admin.action(description="Record verbal messaging consent")
    def record_verbal_messaging_consent(self, request, queryset):
        for patient in queryset:
            services.give_messaging_consent(patient=patient, means=ConsentMeans.VERBAL, recorded_by=request.user)
        self._record_consent_change(request, queryset, "consent given")

    @admin.action(description="Revoke messaging consent")
    def revoke_messaging_consent(self, request, queryset):
        for patient in queryset:
            services.revoke_messaging_consent(patient=patient, means=ConsentMeans.VERBAL, recorded_by=request.user)
        self._record_consent_change(request, queryset, "consent revoked")

    def _record_consent_change(self, request, queryset, what: str) -> None:
        patients = list(queryset.values_list("pk", flat=True))
        audit.record(
            request, action=AuditAction.CHANGE, category=AuditCategory.MESSAGING, patients=patients, detail=what
        )
        self.message_user(request, f"Messaging {what} for {len(patients)} patient(s).", messages.SUCCESS)

    def get_urls(self):
        # "Who looked at this record": program admins (and superusers), for patients they can see.
        report = self.admin_site.admin_view(self.access_report_view)
        return [
            path("<path:object_id>/access/", report, name="patients_patient_access"),
            *admin_workflows.patient_workflow_urls(self),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        context = {
            **(extra_context or {}),
            "access_report_url": reverse("admin:patients_patient_access", args=[object_id])
            if request.user.has_perm("clinic.view_auditevent")
            else None,
        }
        patient = self.get_object(request, object_id)  # scoped: another site's patient is not found
        if patient is not None:
            context["timeline"] = program_selectors.patient_timeline(patient=patient)
            context["show_clinical"] = access.can_view_clinical(request.user)
            context["workflows"] = admin_workflows.available_workflows(patient=patient, user=request.user)
            if request.user.has_perm("programs.add_reversal"):
                context["reversals"] = admin_workflows.reversible_records(patient=patient)
            # --- Staff admin panel (issue 6): schedule, attendance, consent and preferences ---
            today = clock.today()
            context.update(schedule_panel.patient_schedule_context(request=request, patient=patient, today=today))
            context["consent_summary"] = schedule_panel.consent_summary(patient=patient, user=request.user)
            if request.user.has_perm("reminders.view_reminder"):
                context["reminders"] = {
                    "template": "admin/reminders/patient_reminders.html",
                    **reminder_selectors.patient_reminder_summary(patient=patient),
                }
        return super().change_view(request, object_id, form_url, context)

    def access_report_view(self, request, object_id):
        if not request.user.has_perm("clinic.view_auditevent"):
            raise PermissionDenied
        patient = self.get_object(request, object_id)  # scoped: another site's patient is not found
        if patient is None:
            raise Http404
        events = list(audit.access_report(patient=patient)[:500])
        audit.record(request, action=AuditAction.VIEW, category=AuditCategory.AUDIT, patients=[patient], obj=patient)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Who looked at {patient}",
            "opts": self.model._meta,
            "original": patient,
            "summary": audit.access_summary(patient=patient),
            "events": events,
        }
        return TemplateResponse(request, "admin/patients/patient/access_report.html", context)
