"""Staff endpoints for reminders and follow-ups (included at /api/v1/)."""

from django.urls import path

from reminders import api

urlpatterns = [
    path("reminders/", api.ReminderListView.as_view(), name="reminder-list"),
    path("reminders/<id>/", api.ReminderView.as_view(), name="reminder-detail"),
    path("follow-ups/", api.FollowUpListView.as_view(), name="followup-list"),
    path("follow-ups/<id>/", api.FollowUpView.as_view(), name="followup-detail"),
    path("follow-ups/<id>/resolve/", api.ResolveFollowUpView.as_view(), name="followup-resolve"),
]
