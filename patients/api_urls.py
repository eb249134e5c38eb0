from django.urls import include, path

from patients import api

urlpatterns = [
    path("", api.ProfileView.as_view(), name="me"),
    path("preferences/", api.PreferencesView.as_view(), name="me-preferences"),
    path("care/", api.CareView.as_view(), name="me-care"),
    path("devices/", include("reminders.api_me_urls")),
    path("aftercare/", include("programs.api_aftercare_urls")),
]
