from django.urls import path

from admissions import api

urlpatterns = [
    path("referrals/", api.ReferralList.as_view(), name="referrals"),
    path("referrals/<str:id>/", api.ReferralDetail.as_view(), name="referral"),
    path("referrals/<str:id>/screen/", api.ScreenReferral.as_view(), name="referral-screen"),
    path("referrals/<str:id>/accept/", api.AcceptReferral.as_view(), name="referral-accept"),
    path("referrals/<str:id>/close/", api.CloseReferral.as_view(), name="referral-close"),
    path("referrals/<str:id>/priority/", api.ReprioritiseReferral.as_view(), name="referral-priority"),
    path("waitlist/", api.Waitlist.as_view(), name="waitlist"),
    path("reservations/", api.ReservationList.as_view(), name="reservations"),
    path("reservations/<str:id>/", api.ReservationDetail.as_view(), name="reservation"),
    path("reservations/<str:id>/admit/", api.AdmitReservation.as_view(), name="reservation-admit"),
    path("reservations/<str:id>/cancel/", api.CancelReservation.as_view(), name="reservation-cancel"),
    path("programs/<str:id>/census/", api.ProgramCensusOverTime.as_view(), name="program-census"),
    path("sites/<str:id>/census/", api.SiteCensusOverTime.as_view(), name="site-census"),
    path("census/", api.CensusOverTime.as_view(), name="census"),
]
