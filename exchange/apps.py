from django.apps import AppConfig


class ExchangeConfig(AppConfig):
    """FHIR R4: the read API, bulk export and disclosures to other organisations (issue 16).

    It sits on top of every other app: it reads their models and nothing below imports it.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "exchange"
    verbose_name = "Records exchange (FHIR)"

    def ready(self) -> None:
        from clinic.access import Role, grant

        # Registering another organisation as a reader of Part 2 records is a program admin's decision.
        grant(
            Role.PROGRAM_ADMIN,
            "exchange.view_apiclient",
            "exchange.add_apiclient",
            "exchange.change_apiclient",
            "exchange.view_bulkexport",
        )
