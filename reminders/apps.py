from django.apps import AppConfig


class RemindersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reminders"
    verbose_name = "Reminders and follow-ups"

    def ready(self) -> None:
        from clinic.dashboard import register_figures
        from reminders.dashboard import figures

        register_figures(figures)
