from django.urls import include, path

from clinic.api import auth

app_name = "api"

urlpatterns = [
    path("auth/token/", auth.ThrottledTokenObtainPairView.as_view(), name="token"),
    path("auth/token/refresh/", auth.ThrottledTokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout/", auth.LogoutView.as_view(), name="logout"),
    path("me/", include("patients.api_urls")),
    # --- REST API (issue 5): staff endpoints, scoped to the caller's sites ---
    path("", include("patients.staff_api_urls")),
    path("", include("programs.api_urls")),
    path("", include("scheduling.api_urls")),
    path("", include("reminders.api_urls")),  # staff: reminders/, follow-ups/
    path("", include("admissions.api_urls")),  # staff: referrals/, waitlist/, reservations/, census over time
]
