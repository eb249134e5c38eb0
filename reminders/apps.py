from django.apps import AppConfig


class RemindersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reminders"
    verbose_name = "Reminders and follow-ups"

    def ready(self) -> None:
        from django.core import checks

        from clinic.dashboard import register_figures
        from reminders.checks import discreet_sender_settings
        from reminders.dashboard import figures

        register_figures(figures)
        checks.register(discreet_sender_settings)
