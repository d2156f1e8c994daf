"""The durable event outbox (DESIGN §4.2): job events survive crashes until acknowledged.

Every job event is written here, numbered with the node's next ``seq``, before anyone
publishes it; the control plane stores an event once per ``(stream, seq)`` and acks. A
killed agent therefore loses nothing it reported, and re-sends what was not acked.

SQLite (stdlib) in WAL mode with ``synchronous=FULL``: each append is one short
transaction that is on disk when ``append`` returns. Writes are tiny and rare (a few per
job step), so they run on the event loop's thread.

The same database remembers the node's current (or last) job, its state, its spec and
the last mission item its events reported reached, so a restarted agent knows which job
it was running (and can re-attach to its flight, reporting the items reached while it was
away and no other, or report it died), and a repeated ``job_start`` of a known job is
answered without running it twice. (Acknowledged events are deleted: the last item
cannot be read back from them.)
"""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from shared import codec
from shared.enums import JobStatus
from shared.messages import JobEvent, JobSpec, Progress

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS job (
    slot INTEGER PRIMARY KEY CHECK (slot = 0),
    plan_id INTEGER NOT NULL,
    job_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    last_item INTEGER
);
CREATE TABLE IF NOT EXISTS job_spec (
    slot INTEGER PRIMARY KEY CHECK (slot = 0),
    plan_id INTEGER NOT NULL,
    job_id INTEGER NOT NULL,
    payload BLOB NOT NULL
);
"""


class JobRecord(NamedTuple):
    """The node's current or last job, as its last event left it."""

    plan_id: int
    job_id: int
    state: JobStatus
    last_item: int | None = None
    """The last mission item the job's events reported reached (None: none yet)."""

    @property
    def key(self) -> str:
        return f"{self.plan_id}/{self.job_id}"

    @property
    def active(self) -> bool:
        return not self.state.is_terminal


class Outbox:
    """Append-only event log with acknowledgement, in ``path`` (created if absent)."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._clock = clock
        """Wall clock for the events' ``time`` (Unix seconds)."""
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(job)")}
        if "last_item" not in columns:  # an outbox written before the column existed
            self._db.execute("ALTER TABLE job ADD COLUMN last_item INTEGER")
        with self._transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key = 'stream'").fetchone()
            if row is None:
                self._db.execute(
                    "INSERT INTO meta VALUES ('stream', ?), ('next_seq', '1')",
                    (secrets.token_hex(8),),
                )
        self.stream: str = self._meta("stream")
        """This outbox's identity: fixed for the life of the database file."""
        self.listeners: list[Callable[[JobEvent], None]] = []
        """Called after each append (the publisher wakes up)."""

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> sqlite3.Connection:
        # sqlite3.Connection as a context manager commits or rolls back; with
        # isolation_level=None we open the transaction ourselves.
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def _meta(self, key: str) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        assert row is not None, key
        return str(row[0])

    @property
    def next_seq(self) -> int:
        return int(self._meta("next_seq"))

    def append(
        self,
        plan_id: int,
        job_id: int,
        state: JobStatus,
        *,
        progress: Progress | None = None,
        reason: str | None = None,
        detail: str = "",
        spec: JobSpec | None = None,
    ) -> JobEvent:
        """Number, store (durably) and return the next event; it also sets the job record.

        ``spec`` (with the ``accepted`` event) is kept as the job's spec, in the same
        transaction: a restarted agent can pick the job up again (``job_spec``). The item
        a ``progress`` reports reached becomes the job's ``last_item``.
        """
        with self._transaction():
            seq = int(self._meta("next_seq"))
            event = JobEvent(
                seq=seq,
                stream=self.stream,
                plan_id=plan_id,
                job_id=job_id,
                state=state,
                time=self._clock(),
                progress=progress,
                reason=reason,
                detail=detail,
            )
            self._db.execute("INSERT INTO events VALUES (?, ?)", (seq, codec.encode(event)))
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'next_seq'", (str(seq + 1),))
            last_item = progress.item if progress is not None else None
            if last_item is None:  # the same job keeps its last item
                row = self._db.execute(
                    "SELECT last_item FROM job WHERE plan_id = ? AND job_id = ?", (plan_id, job_id)
                ).fetchone()
                last_item = None if row is None else row[0]
            self._db.execute(
                "INSERT OR REPLACE INTO job VALUES (0, ?, ?, ?, ?)",
                (plan_id, job_id, str(state), last_item),
            )
            if spec is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO job_spec VALUES (0, ?, ?, ?)",
                    (spec.plan_id, spec.job_id, codec.encode(spec)),
                )
        for listener in self.listeners:
            listener(event)
        return event

    def unacked(self, after: int = 0) -> list[JobEvent]:
        """The events not acknowledged yet (with ``seq`` > ``after``), in ``seq`` order."""
        rows = self._db.execute(
            "SELECT payload FROM events WHERE seq > ? ORDER BY seq", (after,)
        ).fetchall()
        return [codec.decode(row[0], JobEvent) for row in rows]

    def first_unacked(self) -> int | None:
        """The ``seq`` of the oldest unacknowledged event (a cheap check for the publisher)."""
        row = self._db.execute("SELECT MIN(seq) FROM events").fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def ack(self, stream: str, seq: int) -> int:
        """Drop the events of ``stream`` up to ``seq``; answers how many went.

        An ack of another stream (an outbox that was wiped) acknowledges nothing here.
        """
        if stream != self.stream:
            return 0
        with self._transaction():
            cursor = self._db.execute("DELETE FROM events WHERE seq <= ?", (seq,))
        return cursor.rowcount

    def job_spec(self) -> JobSpec | None:
        """The spec of the current job, when it was stored with it (None otherwise)."""
        record = self.job()
        row = self._db.execute("SELECT plan_id, job_id, payload FROM job_spec").fetchone()
        if record is None or row is None or (int(row[0]), int(row[1])) != record[:2]:
            return None
        try:
            return codec.decode(row[2], JobSpec)
        except codec.ProtocolError:
            return None

    def job(self) -> JobRecord | None:
        """The current or last job, or None before the first one."""
        row = self._db.execute("SELECT plan_id, job_id, state, last_item FROM job").fetchone()
        if row is None:
            return None
        last_item = None if row[3] is None else int(row[3])
        return JobRecord(int(row[0]), int(row[1]), JobStatus(row[2]), last_item)
