from django.apps import AppConfig


class UtilizationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "utilization"
    verbose_name = "Utilization review"

    def ready(self) -> None:
        from clinic import access
        from clinic.dashboard import register_figures
        from utilization import roles
        from utilization.dashboard import figures

        for label, scope in roles.SCOPES.items():
            access.register_scope(label, **scope)
        for role, permissions in roles.PERMISSIONS.items():
            access.grant(role, *permissions)
        register_figures(figures)
