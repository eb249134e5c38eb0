from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from accounts import admin_views as app_access_panel
from clinic import access, audit, clock
from clinic.admin_base import ReadOnlyInline, ScopedAdminMixin
from clinic.errors import InvalidInput
from clinic.models import AuditAction, AuditCategory
from patients import services
from patients.models import ConsentMeans, DisclosedInformation, DisclosureConsent, MessagingConsentEvent, Patient
from programs import admin_workflows
from programs import selectors as program_selectors
from reminders import selectors as reminder_selectors
from scheduling import admin_views as schedule_panel
from utilization import selectors as ur_selectors

VIEW_AUTHORIZATION = "utilization.view_authorization"


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
    list_display = ["mrn", "legal_last_name", "legal_first_name", "preferred_name", "date_of_birth", "current_care"]
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
        ("Contact", {"fields": ["phone", "email", "time_zone", "preferred_language", "user"]}),
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

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "registered_site" and formfield is not None and not request.user.is_superuser:
            # Staff never save a patient they cannot see: a patient with no registered site and no
            # placement is visible to superusers only. The choices are the user's own sites (scoped
            # above by clinic.access); with exactly one, it is chosen for them.
            formfield.required = True
            own = list(formfield.queryset.values_list("pk", flat=True)[:2])
            if len(own) == 1:
                formfield.initial = own[0]
                formfield.empty_label = None
        return formfield

    def get_queryset(self, request):
        # The list says where each patient is now (issue 12): two correlated subqueries, no N+1.
        return super().get_queryset(request).annotate(**program_selectors.current_care_annotations())

    @admin.display(description="Current level of care")
    def current_care(self, patient) -> str:
        if not getattr(patient, "care_program", None):
            return "—"
        return patient.care_program + (f", bed {patient.care_bed}" if patient.care_bed else "")

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
            *app_access_panel.patient_access_urls(self),  # invite to the app, deactivate (issue 13)
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
            context["chart"] = chart = program_selectors.chart_header(patient=patient)  # issue 12: the header
            context["show_clinical"] = access.can_view_clinical(request.user)
            if context["show_clinical"]:
                context["aftercare"] = program_selectors.aftercare_checkins(patient=patient)
            stay = chart.placement
            if stay is not None and stay.program.is_residential and request.user.has_perm(VIEW_AUTHORIZATION):
                # "Auth 12 of 14 days": the payer's days for this level of care, counted through today.
                current = ur_selectors.authorization_in_force(
                    episode=stay.episode_id, on=chart.on, asam_level=stay.program.asam_level
                )
                context["authorization"] = ur_selectors.authorization_headline(current)
            context["workflows"] = admin_workflows.available_workflows(patient=patient, user=request.user)
            if request.user.has_perm("programs.add_reversal"):
                context["reversals"] = admin_workflows.reversible_records(patient=patient)
            # --- Staff admin panel (issue 6): schedule, attendance, consent and preferences ---
            today = clock.today()
            context.update(schedule_panel.patient_schedule_context(request=request, patient=patient, today=today))
            context["consent_summary"] = schedule_panel.consent_summary(patient=patient, user=request.user)
            context["app_access"] = app_access_panel.panel_context(patient=patient, user=request.user)
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


# --- FHIR (issue 16): recording and revoking Part 2 disclosure consents --------------------------


class DisclosureConsentForm(forms.ModelForm):
    """Recording a signed Part 2 consent; the service checks the rule (written, recipient, expiry)."""

    information_types = forms.MultipleChoiceField(
        choices=DisclosedInformation.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="What an organisation's FHIR client may receive under this consent. None: nothing through FHIR.",
    )
    means = forms.ChoiceField(choices=[(m.value, m.label) for m in (ConsentMeans.WRITTEN, ConsentMeans.APP)])

    class Meta:
        model = DisclosureConsent
        fields = ["patient", "recipient", "purpose", "information", "information_types", "means", "given_at"]
        fields += ["expires_at"]

    def clean(self):
        data = super().clean()
        if self.instance.pk is None and not self.errors:
            try:
                services.check_disclosure_consent(
                    recipient=data.get("recipient", ""),
                    purpose=data.get("purpose", ""),
                    information=data.get("information", ""),
                    expires_at=data["expires_at"],
                    means=data.get("means", ""),
                    given_at=data.get("given_at") or clock.now(),
                    information_types=data.get("information_types", []),
                )
            except InvalidInput as error:
                raise ValidationError({error.field or NON_FIELD_ERRORS: error.message}) from None
        return data


@admin.register(DisclosureConsent)
class DisclosureConsentAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """Clinicians record consents from the signed form and revoke them; nothing else about one changes."""

    audit_category = AuditCategory.CLINICAL
    form = DisclosureConsentForm
    list_display = ["patient", "recipient", "given_at", "expires_at", "revoked_at"]
    list_filter = ["means"]
    search_fields = ["recipient", "patient__mrn", "patient__legal_last_name"]
    autocomplete_fields = ["patient"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in DisclosureConsent._meta.fields]

    def save_model(self, request, obj, form, change):
        if change:
            return  # recorded consents do not change; revoke and record a new one
        data = form.cleaned_data
        consent = services.record_disclosure_consent(
            patient=data["patient"],
            recipient=data["recipient"],
            purpose=data["purpose"],
            information=data["information"],
            information_types=data["information_types"],
            expires_at=data["expires_at"],
            means=data["means"],
            given_at=data.get("given_at") or None,
            recorded_by=request.user,
        )
        obj.pk, obj.public_id = consent.pk, consent.public_id
        audit.record(
            request, action=AuditAction.CREATE, category=self.audit_category, patients=[consent.patient_id], obj=consent
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Revoke (takes effect at once)", permissions=["change"])
    def revoke(self, request, queryset):
        for consent in queryset:
            services.revoke_disclosure_consent(consent=consent, means=ConsentMeans.WRITTEN, revoked_by=request.user)
        audit.record(
            request,
            action=AuditAction.CHANGE,
            category=self.audit_category,
            patients=queryset.values_list("patient_id", flat=True),
            detail="revoked disclosure consent",
        )
        self.message_user(request, f"{queryset.count()} consent(s) revoked.")
