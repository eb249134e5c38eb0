from django.contrib import admin, messages

from clinic import audit, clock
from clinic.admin_base import ReadOnlyAdmin, ScopedAdminMixin
from clinic.errors import DomainError
from clinic.models import AuditAction, AuditCategory
from programs.admin import WorklistFilter
from reminders import selectors, services
from reminders.admin_worklists import reminder_worklist_urls
from reminders.dashboard import start_of_today
from reminders.forms import SiteMessagingProfileForm
from reminders.models import FollowUpItem, PushDevice, Reminder, SiteMessagingProfile, SmsOptOut
from scheduling.admin_worklists import follow_up_urls


class ReminderWorklistFilter(WorklistFilter):
    worklists = {
        "sent_today": ("Sent today", lambda on: selectors.reminders_sent_since(since=start_of_today())),
        "late": ("Late", lambda on: selectors.reminders_late(now=clock.now())),
        "failed": ("Failed, last 7 days", lambda on: selectors.reminders_failed(now=clock.now())),
    }


class FollowUpWorklistFilter(WorklistFilter):
    worklists = {"open": ("Open", lambda on: selectors.follow_ups_open())}


@admin.register(Reminder)
class ReminderAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    """The outbox, read-only: only the pipeline writes it."""

    audit_category = AuditCategory.MESSAGING
    list_display = ["id", "patient", "channel", "kind", "due_at", "send_after", "status", "status_reason", "attempts"]
    list_filter = [ReminderWorklistFilter, "status", "status_reason", "channel", "kind"]
    search_fields = ["patient__mrn", "patient__legal_last_name", "idempotency_key", "provider_message_id"]
    date_hierarchy = "due_at"
    list_select_related = ["patient"]
    readonly_fields = [f.name for f in Reminder._meta.fields]

    def get_urls(self):
        # The delivery worklist the dashboard's reminder figures open (issue 12).
        return [*reminder_worklist_urls(self), *super().get_urls()]


@admin.register(PushDevice)
class PushDeviceAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    """Registered by the patient app; staff can see whether push can reach a patient."""

    audit_category = AuditCategory.MESSAGING
    list_display = ["patient", "platform", "is_active", "updated_at"]
    list_filter = ["platform", "is_active"]
    search_fields = ["patient__mrn", "patient__legal_last_name"]
    exclude = ["token"]


@admin.register(SmsOptOut)
class SmsOptOutAdmin(ReadOnlyAdmin):
    # Kept per phone number (a STOP reply), not per patient; program admins only (by permission).
    list_display = ["phone", "keyword", "created_at"]
    search_fields = ["phone"]


@admin.register(SiteMessagingProfile)
class SiteMessagingProfileAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = SiteMessagingProfileForm
    list_display = ["site", "display_name", "place", "reply_phone"]
    search_fields = ["display_name", "site__name"]


@admin.register(FollowUpItem)
class FollowUpItemAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    """Staff work items (missed sessions, a patient asking for help). Resolved through the service."""

    audit_category = AuditCategory.CLINICAL
    list_display = ["patient", "program", "kind", "urgency", "status", "created_at", "resolved_by"]
    list_filter = [FollowUpWorklistFilter, "status", "kind", "urgency", "program__site", "program"]
    search_fields = ["patient__mrn", "patient__legal_last_name"]
    list_select_related = ["patient", "program", "resolved_by"]
    actions = ["resolve"]

    def get_urls(self):
        # Resolving one item from the missed-sessions worklist (issue 12).
        return [*follow_up_urls(self), *super().get_urls()]

    def has_resolve_permission(self, request) -> bool:
        return request.user.has_perm("reminders.change_followupitem")

    @admin.action(description="Mark as resolved", permissions=["resolve"])
    def resolve(self, request, queryset):
        resolved = []
        for item in queryset.filter(status=FollowUpItem.Status.OPEN):
            try:
                resolved.append(services.resolve_follow_up(item=item, resolved_by=request.user))
            except DomainError as error:
                self.message_user(request, error.message, messages.ERROR)
        audit.record(
            request,
            action=AuditAction.CHANGE,
            category=AuditCategory.CLINICAL,
            patients=[item.patient_id for item in resolved],
            detail="follow-up resolved",
        )
        self.message_user(request, f"Resolved {len(resolved)} follow-up item(s).", messages.SUCCESS)
