from django.urls import path

from patients import staff_api

urlpatterns = [
    path("patients/", staff_api.PatientList.as_view(), name="patients"),
    path("patients/<str:id>/", staff_api.PatientDetail.as_view(), name="patient"),
    path("patients/<str:id>/access-report/", staff_api.AccessReport.as_view(), name="patient-access-report"),
]
