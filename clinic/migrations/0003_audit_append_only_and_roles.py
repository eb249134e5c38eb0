from django.db import migrations

from clinic.db import append_only_sql

# Names as in clinic.access.ROLE_GROUPS; copied, because a migration must not
# change meaning when the module does. Permissions are set after every migrate
# (post_migrate) by clinic.access.sync_role_permissions, once they all exist.
ROLE_GROUPS = ["Program admin", "Clinician", "Front desk"]


def create_groups(apps, schema_editor):
    group = apps.get_model("auth", "Group")
    for name in ROLE_GROUPS:
        group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [("clinic", "0002_security"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [
        migrations.RunSQL(*append_only_sql("clinic_auditevent")),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
