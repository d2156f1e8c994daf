"""The control plane's tables.

Every resource a person can see belongs to a ``Group``; services filter by it, so a
resource of another group is indistinguishable from one that does not exist.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model


class Group(Model):
    """A tenant: users see only the nodes, blobs, plans and jobs of their group."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=150, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "groups"


class User(Model):
    """A person who logs in with a password through a registered OAuth client."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=150, unique=True)
    password_hash = fields.CharField(max_length=255)
    """argon2id hash."""
    is_admin = fields.BooleanField(default=False)
    group: fields.ForeignKeyRelation[Group] = fields.ForeignKeyField(
        "gosd.Group", related_name="users", on_delete=fields.RESTRICT
    )
    failed_logins = fields.IntField(default=0)
    """Wrong passwords in a row since the last good login."""
    locked_until = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    group_id: int

    class Meta:
        table = "users"


class OAuthClient(Model):
    """A registered client people log in through (``client_id`` / ``client_secret``)."""

    id = fields.IntField(primary_key=True)
    client_id = fields.CharField(max_length=150, unique=True)
    secret_hash = fields.CharField(max_length=255)
    """argon2id hash: client secrets may be short, so they get a slow hash."""
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "oauth_clients"


class Node(Model):
    """A drone (``air``) or a depot, with its own secret for HTTP and MQTT."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=150)
    description = fields.TextField(default="")
    type_name = fields.CharField(max_length=16)
    group: fields.ForeignKeyRelation[Group] = fields.ForeignKeyField(
        "gosd.Group", related_name="nodes", on_delete=fields.RESTRICT
    )
    secret_hash = fields.CharField(max_length=255)
    """PBKDF2-SHA512 in the Mosquitto password-file format, so the same stored hash
    checks the HTTP client secret of the node and can be written to a broker password file."""
    events_stream = fields.CharField(max_length=64, default="")
    """The agent outbox whose job events this node reports (a wiped outbox starts a new one)."""
    events_seq = fields.IntField(default=0)
    """Every event of that stream up to this number is stored, with no gap."""
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    points: fields.ReverseRelation[Point]

    group_id: int

    class Meta:
        table = "nodes"


class Point(Model):
    """A feature a node offers (live video, status panels, ...)."""

    id = fields.IntField(primary_key=True)
    node: fields.ForeignKeyRelation[Node] = fields.ForeignKeyField(
        "gosd.Node", related_name="points", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=150)
    point_type_name = fields.CharField(max_length=32)
    params: fields.JSONField[Any] = fields.JSONField(default=dict)

    node_id: int

    class Meta:
        table = "points"


class Token(Model):
    """An issued access token (and its refresh token), stored as SHA-256 digests.

    Tokens are 256 random bits, so a fast digest is enough to make a stolen table
    useless; the plaintext exists only in the response that issued it.
    """

    id = fields.IntField(primary_key=True)
    access_digest = fields.CharField(max_length=64, unique=True)
    refresh_digest = fields.CharField(max_length=64, unique=True, null=True)
    client_id = fields.CharField(max_length=150)
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "gosd.User", related_name="tokens", null=True, on_delete=fields.CASCADE
    )
    node: fields.ForeignKeyNullableRelation[Node] = fields.ForeignKeyField(
        "gosd.Node", related_name="tokens", null=True, on_delete=fields.CASCADE
    )
    created_at = fields.DatetimeField()
    expires_at = fields.DatetimeField()
    refresh_expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "tokens"


class Blob(Model):
    """An uploaded file, whose bytes live in the blob store under ``sha256``."""

    id = fields.IntField(primary_key=True)
    group: fields.ForeignKeyRelation[Group] = fields.ForeignKeyField(
        "gosd.Group", related_name="blobs", on_delete=fields.RESTRICT
    )
    filename = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=255)
    size = fields.BigIntField()
    sha256 = fields.CharField(max_length=64, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    group_id: int

    class Meta:
        table = "blobs"


class Plan(Model):
    """A mission for one node: ``files`` (key -> blob) and ``extra`` (key -> text)."""

    id = fields.IntField(primary_key=True)
    group: fields.ForeignKeyRelation[Group] = fields.ForeignKeyField(
        "gosd.Group", related_name="plans", on_delete=fields.RESTRICT
    )
    node: fields.ForeignKeyRelation[Node] = fields.ForeignKeyField(
        "gosd.Node", related_name="plans", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=255)
    description = fields.TextField(default="")
    extra: fields.JSONField[Any] = fields.JSONField(default=dict)
    job_seq = fields.IntField(default=0)
    """The last run number handed out, incremented under the write lock of the row."""
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    files: fields.ReverseRelation[PlanFile]

    group_id: int
    node_id: int

    class Meta:
        table = "plans"


class PlanFile(Model):
    """One entry of the ``files`` of a plan, with a real foreign key so a used blob cannot vanish."""  # noqa: E501

    id = fields.IntField(primary_key=True)
    plan: fields.ForeignKeyRelation[Plan] = fields.ForeignKeyField(
        "gosd.Plan", related_name="files", on_delete=fields.CASCADE
    )
    key = fields.CharField(max_length=255)
    blob: fields.ForeignKeyRelation[Blob] = fields.ForeignKeyField(
        "gosd.Blob", related_name="plan_files", on_delete=fields.RESTRICT
    )

    plan_id: int
    blob_id: int

    class Meta:
        table = "plan_files"
        unique_together = (("plan", "key"),)


class Job(Model):
    """One run of a plan. ``job_id`` is the run number within the plan."""

    id = fields.IntField(primary_key=True)
    plan: fields.ForeignKeyRelation[Plan] = fields.ForeignKeyField(
        "gosd.Plan", related_name="jobs", on_delete=fields.CASCADE
    )
    job_id = fields.IntField()
    group: fields.ForeignKeyRelation[Group] = fields.ForeignKeyField(
        "gosd.Group", related_name="jobs", on_delete=fields.RESTRICT
    )
    node: fields.ForeignKeyRelation[Node] = fields.ForeignKeyField(
        "gosd.Node", related_name="jobs", on_delete=fields.RESTRICT
    )
    files: fields.JSONField[Any] = fields.JSONField(default=dict)
    """Job inputs: key -> blob id (as a string, like the files of a plan)."""
    extra: fields.JSONField[Any] = fields.JSONField(default=dict)
    status = fields.CharField(max_length=16, db_index=True)
    progress: fields.JSONField[Any] = fields.JSONField(null=True)
    error: fields.JSONField[Any] = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    dispatched_at = fields.DatetimeField(null=True)
    """When the control plane first sent the job to its node."""
    last_item = fields.IntField(null=True)
    """The last mission item its agent reported reached (the file's number), if any."""
    resume_of = fields.IntField(null=True)
    """The run (``job_id`` of the same plan) whose rest this job flies, if it is a resume."""

    plan_id: int
    group_id: int
    node_id: int

    class Meta:
        table = "jobs"
        unique_together = (("plan", "job_id"),)


class JobEvent(Model):
    """One transition or progress step of a job, in the order it happened.

    Events from an agent carry the node outbox number (seq) and are stored once per node
    and seq. Events of the control plane itself (queued, dispatched, a queue timeout)
    have no seq.
    """

    id = fields.BigIntField(primary_key=True)
    job: fields.ForeignKeyRelation[Job] = fields.ForeignKeyField(
        "gosd.Job", related_name="events", on_delete=fields.CASCADE
    )
    node: fields.ForeignKeyRelation[Node] = fields.ForeignKeyField(
        "gosd.Node", related_name="job_events", on_delete=fields.CASCADE
    )
    stream = fields.CharField(max_length=64, null=True)
    seq = fields.IntField(null=True)
    state = fields.CharField(max_length=16)
    progress: fields.JSONField[Any] = fields.JSONField(null=True)
    reason = fields.CharField(max_length=64, null=True)
    detail = fields.TextField(default="")
    time = fields.DatetimeField()
    """When it happened, by the clock of whoever reported it."""
    received_at = fields.DatetimeField()

    job_id: int
    node_id: int

    class Meta:
        table = "job_events"
        unique_together = (("node", "stream", "seq"),)
