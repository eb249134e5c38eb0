from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Clinic programs"
admin.site.site_title = "Clinic programs"
admin.site.index_title = "Today at the clinic"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("reminders/", include("reminders.urls")),
]
