from django.apps import AppConfig


class AdmissionsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "admissions"
    verbose_name = "Admissions: referrals, waitlist, reservations"

    def ready(self) -> None:
        from admissions import dashboard, selectors, services
        from clinic import access
        from clinic.dashboard import register_chart_forecast, register_figures
        from programs.selectors import register_bed_holds
        from programs.services import register_bed_claim_check

        access.register_scope("admissions.referral", site="program__site")
        access.register_scope("admissions.referralevent", site="referral__program__site")
        access.register_scope("admissions.reservation", site="program__site")
        access.grant(
            access.Role.FRONT_DESK,
            "admissions.view_referral",
            "admissions.add_referral",
            "admissions.view_reservation",
            "admissions.add_reservation",
            "admissions.change_reservation",
        )
        for role in (access.Role.CLINICIAN, access.Role.PROGRAM_ADMIN):
            access.grant(
                role,
                "admissions.view_referral",
                "admissions.add_referral",
                "admissions.change_referral",
                "admissions.view_referralevent",
                "admissions.view_reservation",
                "admissions.add_reservation",
                "admissions.change_reservation",
            )
        register_figures(dashboard.figures)
        register_chart_forecast(dashboard.forecast)
        # programs cannot import this app; it asks us, through a hook, whether a bed is reserved.
        register_bed_claim_check(services.check_bed_claim)
        # ... and which beds are reserved, so free-bed pickers skip them and the bed board shows for whom.
        register_bed_holds(selectors.ReservedBeds)
