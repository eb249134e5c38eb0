"""Load the demo clinic. Idempotent: running it twice changes nothing."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from programs import demo


class Command(BaseCommand):
    help = "Create a believable demo clinic (two sites, residential and IOP programs, patients in every phase)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--patients", type=int, default=40, help="How many demo patients (default 40).")
        parser.add_argument("--no-progress", action="store_true", help="Hide the progress bar.")

    def handle(self, *args, patients: int, no_progress: bool, **options) -> None:
        if patients < 1:
            raise CommandError("--patients must be at least 1.")

        def progress(items):
            return tqdm(items, desc="Demo patients", unit="patient", disable=no_progress, file=self.stderr)

        result = demo.seed(patients=patients, progress=progress)
        self.stdout.write(f"Demo staff login: {demo.DEMO_STAFF_USERNAME} / {demo.DEMO_STAFF_PASSWORD}")
        if result.get("feed_token"):
            # Shown once: only a hash of the token is stored.
            self.stdout.write(f"Demo patient calendar: /calendar/{result['feed_token']}.ics")
        others = ", ".join([*demo.DEMO_ROLE_USERS, demo.DEMO_PATIENT_USERNAME])
        self.stdout.write(f"Demo logins per role (same password): {others}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo clinic ready: {result['created']} patients created, {result['skipped']} already there."
            )
        )
