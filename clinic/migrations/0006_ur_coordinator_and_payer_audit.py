from django.db import migrations, models


def create_group(apps, schema_editor):
    # The name as in clinic.access.ROLE_GROUPS (copied: a migration must not change with the module).
    apps.get_model("auth", "Group").objects.get_or_create(name="UR coordinator")


class Migration(migrations.Migration):
    dependencies = [("clinic", "0005_audit_disclose_action")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="category",
            field=models.CharField(
                blank=True,
                choices=[
                    ("demographics", "Demographics"),
                    ("clinical", "Clinical"),
                    ("schedule", "Schedule"),
                    ("messaging", "Messaging"),
                    ("payer", "Payer"),
                    ("audit", "Audit trail"),
                ],
                max_length=16,
            ),
        ),
        migrations.RunPython(create_group, migrations.RunPython.noop),
    ]
