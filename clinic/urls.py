from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from scheduling.views import calendar_feed

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("clinic.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    # scheduling: a patient's private calendar (the token is the capability)
    path("calendar/<str:token>.ics", calendar_feed, name="calendar-feed"),
    path("reminders/", include("reminders.urls")),
    # FHIR R4 (issue 16): read API, bulk export, API clients of other organisations
    path("fhir/R4/", include("exchange.urls")),
]

# Benchmarks (issue 8): the raw-SQL baselines of `make bench`, only when BENCH_VIEWS=1.
if settings.BENCH_VIEWS:
    urlpatterns += [path("bench/", include("bench.urls"))]
