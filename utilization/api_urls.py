from django.urls import path

from utilization import api

urlpatterns = [
    path("payers/", api.PayerList.as_view(), name="payers"),
    path("coverages/", api.CoverageList.as_view(), name="coverages"),
    path("coverages/<str:id>/", api.CoverageDetail.as_view(), name="coverage"),
    path("authorizations/", api.AuthorizationList.as_view(), name="authorizations"),
    path("authorizations/<str:id>/", api.AuthorizationDetail.as_view(), name="authorization"),
    path("authorizations/<str:id>/decision/", api.AuthorizationDecision.as_view(), name="authorization-decision"),
    path("authorizations/<str:id>/reviews/", api.AuthorizationReview.as_view(), name="authorization-reviews"),
    path("utilization/episodes/<str:id>/", api.EpisodeUtilization.as_view(), name="episode-utilization"),
    path("utilization/worklist/", api.Worklist.as_view(), name="ur-worklist"),
    path("billable-units/", api.BillableUnits.as_view(), name="billable-units"),
]
