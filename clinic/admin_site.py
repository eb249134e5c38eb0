"""The staff admin site: the stock Django admin with a shift dashboard as its index page."""

from __future__ import annotations

from django.contrib import admin

from clinic import clock, dashboard
from clinic.otp import AdminLoginForm


class ClinicAdminSite(admin.AdminSite):
    site_header = "Clinic programs"
    site_title = "Clinic programs"
    index_title = "Today at the clinic"
    index_template = "admin/clinic_index.html"
    # Asks for the TOTP code of staff who enrolled a device (optional two-factor).
    login_form = AdminLoginForm

    def index(self, request, extra_context=None):
        context = {"dashboard": dashboard.build(user=request.user, today=clock.today())}
        return super().index(request, extra_context={**context, **(extra_context or {})})
