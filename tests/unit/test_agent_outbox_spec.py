"""The outbox keeps the current job's spec with its ``accepted`` event (for re-attach)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge_agent.outbox import Outbox
from shared.enums import JobStatus
from shared.messages import FileRef, JobSpec

JOB = JobSpec(
    plan_id=3,
    job_id=4,
    files={"mission": FileRef(blob_id="9", sha256="a" * 64, size=10, filename="m.plan")},
    extra={"on_finish": "land"},
)


def test_the_spec_survives_a_restart_and_belongs_to_the_current_job(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path)
    assert outbox.job_spec() is None
    outbox.append(3, 4, JobStatus.ACCEPTED, spec=JOB)
    outbox.append(3, 4, JobStatus.RUNNING)
    outbox.close()
    again = Outbox(path)
    assert again.job_spec() == JOB
    # Another job without a spec (an older agent's record): no stale spec is answered.
    again.append(3, 5, JobStatus.ACCEPTED)
    assert again.job_spec() is None
    again.close()


def test_a_damaged_spec_reads_as_none(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path)
    outbox.append(3, 4, JobStatus.ACCEPTED, spec=JOB)
    outbox.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE job_spec SET payload = ?", (b'{"plan_id": "x"}',))
    db.commit()
    db.close()
    assert Outbox(path).job_spec() is None
