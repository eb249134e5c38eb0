"""Optional TOTP two-factor for staff (django-otp).

Staff may enrol a TOTP device (an authenticator app). From then on the admin
login asks for the six-digit code, and an admin session that was opened without
it (for example through another login form) is sent back to the login page.
Staff without a device log in with their password alone.
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_otp import devices_for_user, user_has_device
from django_otp.forms import OTPAuthenticationFormMixin


class AdminLoginForm(OTPAuthenticationFormMixin, AdminAuthenticationForm):
    otp_device = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_challenge = forms.CharField(required=False, widget=forms.HiddenInput)
    otp_token = forms.CharField(
        label="Two-factor code",
        required=False,
        help_text="Only if you have set up two-factor authentication.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def _chosen_device(self, user):
        # The page has no device picker: staff enrol one authenticator, and that is the one to check.
        # (Trying every device in turn would count a failure against each that did not match.)
        chosen = super()._chosen_device(user)
        if chosen is None:
            chosen = next(devices_for_user(user, confirmed=True), None)
        return chosen

    def clean(self):
        cleaned = super().clean()  # the password, through django-axes
        user = self.get_user()
        if user is not None and user_has_device(user):
            self.clean_otp(user)
        return cleaned


class EnrolledStaffNeedOTPMiddleware:
    """An admin session of a user with a device must have been verified with it."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and request.path.startswith(reverse("admin:index"))
            and request.path not in (reverse("admin:login"), reverse("admin:logout"))
            and not user.is_verified()
            and user_has_device(user)
        ):
            logout(request)
            return redirect(f"{reverse('admin:login')}?next={request.path}")
        return self.get_response(request)
