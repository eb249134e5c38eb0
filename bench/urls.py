"""The raw-SQL baselines, included by ``clinic/urls.py`` only when BENCH_VIEWS=1."""

from django.urls import path

from bench import views

app_name = "bench"

urlpatterns = [
    path("raw/me/", views.me, name="raw-me"),
    path("raw/me/audited/", views.me_audited, name="raw-me-audited"),
    path("raw/me/care/", views.me_care, name="raw-me-care"),
    path("raw/me/sessions/", views.me_sessions, name="raw-me-sessions"),
    path("raw/staff/census/", views.staff_census, name="raw-staff-census"),
    path("raw/staff/patients/", views.staff_patients, name="raw-staff-patients"),
]
