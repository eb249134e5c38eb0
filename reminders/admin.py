from django.contrib import admin

from clinic.admin_base import ReadOnlyAdmin
from reminders.models import FollowUpItem, PushDevice, Reminder, SiteMessagingProfile, SmsOptOut


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    """The outbox, read-only: only the pipeline writes it."""

    list_display = ["id", "patient", "channel", "kind", "due_at", "send_after", "status", "status_reason", "attempts"]
    list_filter = ["status", "status_reason", "channel", "kind"]
    search_fields = ["patient__mrn", "patient__legal_last_name", "idempotency_key", "provider_message_id"]
    date_hierarchy = "due_at"
    list_select_related = ["patient"]
    readonly_fields = [f.name for f in Reminder._meta.fields]


@admin.register(PushDevice)
class PushDeviceAdmin(admin.ModelAdmin):
    list_display = ["patient", "platform", "is_active", "updated_at"]
    list_filter = ["platform", "is_active"]
    search_fields = ["patient__mrn", "patient__legal_last_name"]
    raw_id_fields = ["patient"]


@admin.register(SmsOptOut)
class SmsOptOutAdmin(ReadOnlyAdmin):
    list_display = ["phone", "keyword", "created_at"]
    search_fields = ["phone"]


@admin.register(SiteMessagingProfile)
class SiteMessagingProfileAdmin(admin.ModelAdmin):
    list_display = ["site", "display_name", "place", "reply_phone"]
    search_fields = ["display_name", "site__name"]


@admin.register(FollowUpItem)
class FollowUpItemAdmin(admin.ModelAdmin):
    list_display = ["patient", "program", "kind", "urgency", "status", "created_at", "resolved_by"]
    list_filter = ["status", "kind", "urgency", "program"]
    search_fields = ["patient__mrn", "patient__legal_last_name"]
    raw_id_fields = ["patient", "program"]
    readonly_fields = ["resolved_by", "resolved_at", "created_at", "updated_at"]
