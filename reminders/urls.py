from django.urls import path

from reminders import views

app_name = "reminders"

urlpatterns = [
    path("sms/inbound/", views.inbound_sms, name="inbound-sms"),
]
