from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("gosd", "0002_job_events")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Job",
            name="last_item",
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name="Job",
            name="resume_of",
            field=fields.IntField(null=True),
        ),
    ]
