"""FHIR (issue 16): disclosure consents get a public id (the Consent's id) and the kinds of information they cover."""

import uuid

import django.contrib.postgres.fields
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("patients", "0003_consent_history_append_only")]

    operations = [
        migrations.AddField(
            model_name="disclosureconsent",
            name="public_id",
            field=models.UUIDField(null=True, editable=False),
        ),
        # Each existing consent gets its own id (a column default would give them all the same one).
        migrations.RunSQL(
            "UPDATE patients_disclosureconsent SET public_id = gen_random_uuid() WHERE public_id IS NULL",
            migrations.RunSQL.noop,
        ),
        migrations.AlterField(
            model_name="disclosureconsent",
            name="public_id",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name="disclosureconsent",
            name="information_types",
            field=django.contrib.postgres.fields.ArrayField(
                base_field=models.CharField(
                    choices=[
                        ("demographics", "Identity and contact details (Patient)"),
                        ("treatment", "Treatment episodes and levels of care (EpisodeOfCare, Encounter)"),
                        ("appointments", "Appointments and attendance (Appointment)"),
                        ("care_plan", "Aftercare plan (CarePlan)"),
                        ("consents", "Consents (Consent)"),
                    ],
                    max_length=16,
                ),
                blank=True,
                default=list,
                help_text="Which records an organisation's FHIR client may receive under this consent.",
                size=None,
            ),
        ),
    ]
