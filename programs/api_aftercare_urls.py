from django.urls import path

from programs import api_aftercare as api

urlpatterns = [
    path("", api.AftercareView.as_view(), name="me-aftercare"),
    path("checkins/<id>/", api.CheckInView.as_view(), name="me-aftercare-checkin"),
    path("checkins/<id>/answer/", api.AnswerCheckInView.as_view(), name="me-aftercare-checkin-answer"),
]
