from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('gosd', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='JobEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('job', fields.ForeignKeyField('gosd.Job', source_field='job_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('node', fields.ForeignKeyField('gosd.Node', source_field='node_id', db_constraint=True, to_field='id', related_name='job_events', on_delete=OnDelete.CASCADE)),
                ('stream', fields.CharField(null=True, max_length=64)),
                ('seq', fields.IntField(null=True)),
                ('state', fields.CharField(max_length=16)),
                ('progress', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('reason', fields.CharField(null=True, max_length=64)),
                ('detail', fields.TextField(default='', unique=False)),
                ('time', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'job_events', 'app': 'gosd', 'unique_together': (('node', 'stream', 'seq'),), 'pk_attr': 'id', 'table_description': 'One transition or progress step of a job, in the order it happened.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Job',
            name='dispatched_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Node',
            name='events_seq',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='Node',
            name='events_stream',
            field=fields.CharField(default='', max_length=64),
        ),
    ]
