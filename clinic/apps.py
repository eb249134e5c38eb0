from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, **kwargs) -> None:
    from clinic.access import sync_role_permissions

    # post_migrate is sent once per app; permissions of apps later in the list
    # appear on later calls, so each call is partial and the last one complete.
    sync_role_permissions()


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

        from clinic import audit

        user_logged_in.connect(audit.on_user_logged_in, dispatch_uid="clinic.audit.login")
        from clinic import localtime

        user_logged_in.connect(localtime.remember_zone, dispatch_uid="clinic.localtime.remember_zone")
        user_logged_out.connect(audit.on_user_logged_out, dispatch_uid="clinic.audit.logout")
        user_login_failed.connect(audit.on_user_login_failed, dispatch_uid="clinic.audit.login_failed")
        post_migrate.connect(_sync_roles, dispatch_uid="clinic.access.sync_roles")

        from django.core import checks

        from clinic.dbroles import check_app_role

        checks.register(check_app_role, checks.Tags.security, deploy=True)

        from clinic.api import schema  # noqa: F401 - defines the OpenAPI extension for the API's JWT authentication


class ClinicAdminConfig(AdminConfig):
    """The Django admin with the clinic's dashboard as its front page."""

    default_site = "clinic.admin_site.ClinicAdminSite"
