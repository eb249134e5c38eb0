from django.urls import include, path

from patients import api
from scheduling import api as scheduling_api

urlpatterns = [
    path("", api.ProfileView.as_view(), name="me"),
    path("preferences/", api.PreferencesView.as_view(), name="me-preferences"),
    path("care/", api.CareView.as_view(), name="me-care"),
    path("sessions/", scheduling_api.MySessionList.as_view(), name="me-sessions"),
    path("sessions/<str:id>/", scheduling_api.MySessionDetail.as_view(), name="me-session"),
    path("sessions/<str:id>/response/", scheduling_api.MySessionResponse.as_view(), name="me-session-response"),
    path("calendar-feed/", scheduling_api.MyCalendarFeed.as_view(), name="me-calendar-feed"),
    path("devices/", include("reminders.api_me_urls")),
    path("aftercare/", include("programs.api_aftercare_urls")),
]
