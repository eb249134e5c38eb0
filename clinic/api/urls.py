from django.urls import include, path

from clinic.api import auth
from exchange.api_me import MyRecord

app_name = "api"

urlpatterns = [
    path("auth/token/", auth.ThrottledTokenObtainPairView.as_view(), name="token"),
    path("auth/token/refresh/", auth.ThrottledTokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout/", auth.LogoutView.as_view(), name="logout"),
    # FHIR (issue 16): the patient's whole record, built by the FHIR layer on top of every app.
    path("me/record/", MyRecord.as_view(), name="me-record"),
    path("auth/", include("accounts.api_urls")),  # activate an invitation, reset a password (issue 13)
    path("me/", include("patients.api_urls")),
    # --- REST API (issue 5): staff endpoints, scoped to the caller's sites ---
    path("", include("patients.staff_api_urls")),
    path("", include("programs.api_urls")),
    path("", include("scheduling.api_urls")),
    path("", include("reminders.api_urls")),  # staff: reminders/, follow-ups/
    path("", include("utilization.api_urls")),  # staff: coverage, authorizations, UR worklist, billable units
    path("", include("accounts.staff_api_urls")),  # staff: patients/{id}/invitations/, app-access/
    path("", include("admissions.api_urls")),  # staff: referrals/, waitlist/, reservations/, census over time
]
