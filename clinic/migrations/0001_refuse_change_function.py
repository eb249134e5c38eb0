from django.db import migrations

from clinic.db import REFUSE_CHANGE_FUNCTION


class Migration(migrations.Migration):
    """The trigger function that append-only history tables share."""

    dependencies: list = []

    operations = [
        migrations.RunSQL("CREATE EXTENSION IF NOT EXISTS btree_gist;", migrations.RunSQL.noop),
        migrations.RunSQL(REFUSE_CHANGE_FUNCTION, "DROP FUNCTION IF EXISTS clinic_refuse_change();"),
    ]
