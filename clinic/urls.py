from django.contrib import admin
from django.urls import path

from scheduling.views import calendar_feed

admin.site.site_header = "Clinic programs"
admin.site.site_title = "Clinic programs"
admin.site.index_title = "Today at the clinic"

urlpatterns = [
    path("admin/", admin.site.urls),
    # scheduling: a patient's private calendar (the token is the capability)
    path("calendar/<str:token>.ics", calendar_feed, name="calendar-feed"),
]
