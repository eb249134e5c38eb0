from django.contrib import admin

from patients.models import Patient
from programs import admin_workflows
from programs import selectors as program_selectors


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "date_of_birth", "time_zone"]
    list_filter = ["confidential_communication", "sms_allowed", "time_zone"]
    search_fields = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "email", "phone"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
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

    def change_view(self, request, object_id, form_url="", extra_context=None):
        patient = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if patient is not None:
            context["timeline"] = program_selectors.patient_timeline(patient=patient)
            context["show_clinical"] = True
            context["workflows"] = admin_workflows.available_workflows(patient=patient, user=request.user)
            if request.user.has_perm("programs.add_reversal"):
                context["reversals"] = admin_workflows.reversible_records(patient=patient)
        return super().change_view(request, object_id, form_url, extra_context=context)

    def get_urls(self):
        return admin_workflows.patient_workflow_urls(self) + super().get_urls()
