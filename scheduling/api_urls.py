from django.urls import path

from scheduling import api

urlpatterns = [
    path("session-series/", api.SeriesList.as_view(), name="series-list"),
    path("session-series/<str:id>/", api.SeriesDetail.as_view(), name="series"),
    path("sessions/", api.SessionList.as_view(), name="sessions"),
    path("sessions/<str:id>/", api.SessionDetail.as_view(), name="session"),
    path("sessions/<str:id>/cancel/", api.CancelSession.as_view(), name="session-cancel"),
    path("sessions/<str:id>/move/", api.MoveSession.as_view(), name="session-move"),
    path("sessions/<str:id>/attendance/", api.RecordAttendance.as_view(), name="session-attendance"),
    path("bookings/", api.BookingList.as_view(), name="bookings"),
    path("bookings/<str:id>/cancel/", api.CancelBooking.as_view(), name="booking-cancel"),
    path("compliance/below-minimum/", api.BelowMinimum.as_view(), name="compliance-below-minimum"),
    path("compliance/consecutive-absences/", api.ConsecutiveAbsences.as_view(), name="compliance-absences"),
]
