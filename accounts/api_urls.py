from django.urls import path

from accounts import api

urlpatterns = [
    path("activate/", api.ActivateView.as_view(), name="activate"),
    path("password-reset/", api.PasswordResetView.as_view(), name="password-reset"),
    path("password-reset/confirm/", api.PasswordResetConfirmView.as_view(), name="password-reset-confirm"),
]
