from django.db import migrations

from clinic.db import append_only_sql


class Migration(migrations.Migration):
    dependencies = [("patients", "0002_security"), ("clinic", "0001_refuse_change_function")]

    operations = [migrations.RunSQL(*append_only_sql("patients_messagingconsentevent"))]
