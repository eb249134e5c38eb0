from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Patient app accounts"

    def ready(self) -> None:
        from clinic.access import register_scope

        register_scope("accounts.accesscode", patient=["patient"])
