from django.urls import path

from programs import api

urlpatterns = [
    path("programs/", api.ProgramList.as_view(), name="programs"),
    path("programs/<str:id>/", api.ProgramDetail.as_view(), name="program"),
    path("beds/", api.BedList.as_view(), name="beds"),
    path("episodes/", api.EpisodeList.as_view(), name="episodes"),
    path("episodes/<str:id>/", api.EpisodeDetail.as_view(), name="episode"),
    path("episodes/<str:id>/discharge/", api.DischargeEpisode.as_view(), name="episode-discharge"),
    path("residential-stays/", api.ResidentialStayList.as_view(), name="stays"),
    path("residential-stays/<str:id>/", api.ResidentialStayDetail.as_view(), name="stay"),
    path("residential-stays/<str:id>/extend/", api.ExtendStay.as_view(), name="stay-extend"),
    path("residential-stays/<str:id>/step-down/", api.StepDown.as_view(), name="stay-step-down"),
    path("iop-enrollments/", api.IOPEnrollmentList.as_view(), name="enrollments"),
    path("iop-enrollments/<str:id>/", api.IOPEnrollmentDetail.as_view(), name="enrollment"),
    path("iop-enrollments/<str:id>/step-up/", api.StepUp.as_view(), name="enrollment-step-up"),
    path("transitions/", api.TransitionList.as_view(), name="transitions"),
    path("transitions/<str:id>/reverse/", api.ReverseTransition.as_view(), name="transition-reverse"),
    path("discharges/", api.DischargeList.as_view(), name="discharges"),
    path("discharges/<str:id>/reverse/", api.ReverseDischarge.as_view(), name="discharge-reverse"),
]
