"""The patient's push devices (included at /api/v1/me/devices/)."""

from django.urls import path

from reminders import api

urlpatterns = [
    path("", api.DeviceListView.as_view(), name="me-devices"),
    path("<id>/", api.DeviceView.as_view(), name="me-device"),
]
