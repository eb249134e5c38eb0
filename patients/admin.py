from django.contrib import admin

from patients.models import Patient


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "date_of_birth", "time_zone"]
    list_filter = ["confidential_communication", "sms_allowed", "time_zone"]
    search_fields = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "email", "phone"]
    readonly_fields = ["public_id", "created_at", "updated_at"]
    autocomplete_fields = ["user"]
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
