from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

admin.site.site_header = "Clinic programs"
admin.site.site_title = "Clinic programs"
admin.site.index_title = "Today at the clinic"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("clinic.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
