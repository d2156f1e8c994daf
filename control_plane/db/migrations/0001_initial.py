import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name="Group",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(unique=True, max_length=150)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "groups",
                "app": "gosd",
                "pk_attr": "id",
                "table_description": "A tenant: users see only the nodes, blobs, plans and jobs of their group.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Blob",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "group",
                    fields.ForeignKeyField(
                        "gosd.Group",
                        source_field="group_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="blobs",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("filename", fields.CharField(max_length=255)),
                ("content_type", fields.CharField(max_length=255)),
                ("size", fields.BigIntField()),
                ("sha256", fields.CharField(db_index=True, max_length=64)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "blobs",
                "app": "gosd",
                "pk_attr": "id",
                "table_description": "An uploaded file, whose bytes live in the blob store under ``sha256``.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Node",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("name", fields.CharField(max_length=150)),
                ("description", fields.TextField(default="", unique=False)),
                ("type_name", fields.CharField(max_length=16)),
                (
                    "group",
                    fields.ForeignKeyField(
                        "gosd.Group",
                        source_field="group_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="nodes",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("secret_hash", fields.CharField(max_length=255)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "nodes",
                "app": "gosd",
                "pk_attr": "id",
                "table_description": "A drone (``air``) or a depot, with its own secret for HTTP and MQTT.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="OAuthClient",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("client_id", fields.CharField(unique=True, max_length=150)),
                ("secret_hash", fields.CharField(max_length=255)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "oauth_clients",
                "app": "gosd",
                "pk_attr": "id",
                "table_description": "A registered client people log in through (``client_id`` / ``client_secret``).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Plan",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "group",
                    fields.ForeignKeyField(
                        "gosd.Group",
                        source_field="group_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="plans",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "node",
                    fields.ForeignKeyField(
                        "gosd.Node",
                        source_field="node_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="plans",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("name", fields.CharField(max_length=255)),
                ("description", fields.TextField(default="", unique=False)),
                (
                    "extra",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("job_seq", fields.IntField(default=0)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "plans",
                "app": "gosd",
                "pk_attr": "id",
                "table_description": "A mission for one node: ``files`` (key -> blob) and ``extra`` (key -> text).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Job",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "plan",
                    fields.ForeignKeyField(
                        "gosd.Plan",
                        source_field="plan_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="jobs",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("job_id", fields.IntField()),
                (
                    "group",
                    fields.ForeignKeyField(
                        "gosd.Group",
                        source_field="group_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="jobs",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "node",
                    fields.ForeignKeyField(
                        "gosd.Node",
                        source_field="node_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="jobs",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "files",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "extra",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("status", fields.CharField(db_index=True, max_length=16)),
                (
                    "progress",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "error",
                    fields.JSONField(
                        null=True,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ("started_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "finished_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
            ],
            options={
                "table": "jobs",
                "app": "gosd",
                "unique_together": (("plan", "job_id"),),
                "pk_attr": "id",
                "table_description": "One run of a plan. ``job_id`` is the run number within the plan.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="PlanFile",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "plan",
                    fields.ForeignKeyField(
                        "gosd.Plan",
                        source_field="plan_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="files",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("key", fields.CharField(max_length=255)),
                (
                    "blob",
                    fields.ForeignKeyField(
                        "gosd.Blob",
                        source_field="blob_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="plan_files",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
            ],
            options={
                "table": "plan_files",
                "app": "gosd",
                "unique_together": (("plan", "key"),),
                "pk_attr": "id",
                "table_description": "One entry of the ``files`` of a plan, with a real foreign key so a used blob cannot vanish.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Point",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "node",
                    fields.ForeignKeyField(
                        "gosd.Node",
                        source_field="node_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="points",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("name", fields.CharField(max_length=150)),
                ("point_type_name", fields.CharField(max_length=32)),
                (
                    "params",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
            ],
            options={
                "table": "points",
                "app": "gosd",
                "pk_attr": "id",
                "table_description": "A feature a node offers (live video, status panels, ...).",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="User",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("username", fields.CharField(unique=True, max_length=150)),
                ("password_hash", fields.CharField(max_length=255)),
                ("is_admin", fields.BooleanField(default=False)),
                (
                    "group",
                    fields.ForeignKeyField(
                        "gosd.Group",
                        source_field="group_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="users",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("failed_logins", fields.IntField(default=0)),
                (
                    "locked_until",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "users",
                "app": "gosd",
                "pk_attr": "id",
                "table_description": "A person who logs in with a password through a registered OAuth client.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="Token",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("access_digest", fields.CharField(unique=True, max_length=64)),
                ("refresh_digest", fields.CharField(null=True, unique=True, max_length=64)),
                ("client_id", fields.CharField(max_length=150)),
                (
                    "user",
                    fields.ForeignKeyField(
                        "gosd.User",
                        source_field="user_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "node",
                    fields.ForeignKeyField(
                        "gosd.Node",
                        source_field="node_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="tokens",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("expires_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                (
                    "refresh_expires_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "tokens",
                "app": "gosd",
                "pk_attr": "id",
                "table_description": "An issued access token (and its refresh token), stored as SHA-256 digests.",
            },
            bases=["Model"],
        ),
    ]
