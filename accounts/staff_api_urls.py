from django.urls import path

from accounts import staff_api

urlpatterns = [
    path("patients/<str:id>/invitations/", staff_api.PatientInvitations.as_view(), name="patient-invitations"),
    path("patients/<str:id>/app-access/", staff_api.PatientAppAccess.as_view(), name="patient-app-access"),
]
