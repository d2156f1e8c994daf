"""The durable event outbox: numbering, acknowledgement, the job record, restarts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from edge_agent.outbox import Outbox
from shared.enums import JobStatus
from shared.errors import JobFailure
from shared.messages import JobEvent, Progress


def test_events_are_numbered_gap_free_from_one(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3", clock=lambda: 12.5)
    seen: list[JobEvent] = []
    outbox.listeners.append(seen.append)
    a = outbox.append(1, 2, JobStatus.ACCEPTED)
    b = outbox.append(1, 2, JobStatus.RUNNING, progress=Progress(current=1, total=3, percent=33.3))
    assert (a.seq, b.seq) == (1, 2)
    assert a.stream == b.stream == outbox.stream
    assert a.time == 12.5
    assert outbox.unacked() == [a, b] == seen
    outbox.close()


def test_ack_drops_up_to_seq_of_its_own_stream_only(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    for state in (JobStatus.ACCEPTED, JobStatus.PREPARING, JobStatus.RUNNING):
        outbox.append(1, 2, state)
    assert outbox.ack("another-stream", 3) == 0
    assert len(outbox.unacked()) == 3
    assert outbox.ack(outbox.stream, 2) == 2
    assert [e.seq for e in outbox.unacked()] == [3]
    assert outbox.ack(outbox.stream, 2) == 0  # a repeated ack changes nothing
    outbox.close()


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    first = Outbox(path)
    stream = first.stream
    first.append(1, 2, JobStatus.ACCEPTED)
    first.append(1, 2, JobStatus.PREPARING)
    first.ack(stream, 1)
    first.close()

    again = Outbox(path)
    assert again.stream == stream
    assert [e.seq for e in again.unacked()] == [2]
    assert again.append(1, 2, JobStatus.RUNNING).seq == 3
    record = again.job()
    assert record is not None
    assert (record.key, record.state, record.active) == ("1/2", JobStatus.RUNNING, True)
    again.close()


def test_the_seq_never_goes_back_even_when_all_is_acked(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path)
    outbox.append(1, 2, JobStatus.ACCEPTED)
    outbox.ack(outbox.stream, 1)
    outbox.close()
    outbox = Outbox(path)
    assert outbox.unacked() == []
    assert outbox.append(1, 2, JobStatus.SUCCEEDED).seq == 2
    outbox.close()


def test_the_job_record_follows_the_last_event(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    assert outbox.job() is None
    outbox.append(3, 4, JobStatus.ACCEPTED)
    outbox.append(3, 4, JobStatus.FAILED, reason=JobFailure.CHECKSUM_MISMATCH, detail="x")
    record = outbox.job()
    assert record is not None and not record.active and record.key == "3/4"
    assert outbox.unacked()[-1].reason == "checksum_mismatch"
    outbox.close()


def test_a_wiped_outbox_starts_a_new_stream(tmp_path: Path) -> None:
    a = Outbox(tmp_path / "a.sqlite3")
    b = Outbox(tmp_path / "b.sqlite3")
    assert a.stream != b.stream
    a.close()
    b.close()


def test_unacked_after_a_seq_and_the_first_unacked(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite3")
    assert outbox.first_unacked() is None
    for state in (JobStatus.ACCEPTED, JobStatus.PREPARING, JobStatus.RUNNING):
        outbox.append(1, 2, state)
    assert [e.seq for e in outbox.unacked(after=1)] == [2, 3]
    outbox.ack(outbox.stream, 1)
    assert outbox.first_unacked() == 2
    outbox.close()


def test_the_job_record_keeps_the_last_item_reported_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path)
    outbox.append(1, 2, JobStatus.ACCEPTED)
    assert outbox.job() == (1, 2, JobStatus.ACCEPTED, None)
    for item in (0, 1, 2):
        outbox.append(1, 2, JobStatus.RUNNING, progress=Progress(current=item + 1, item=item))
    outbox.append(1, 2, JobStatus.RUNNING, progress=Progress(current=3, stage="returning"))
    outbox.ack(outbox.stream, outbox.next_seq - 1)  # the events are gone; the item is not
    outbox.close()

    again = Outbox(path)
    record = again.job()
    assert record is not None and record.last_item == 2
    again.append(1, 3, JobStatus.ACCEPTED)  # the next job starts with none
    assert again.job() == (1, 3, JobStatus.ACCEPTED, None)
    again.close()


def test_an_outbox_written_before_last_item_existed_opens(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE job (slot INTEGER PRIMARY KEY CHECK (slot = 0), plan_id INTEGER NOT NULL,"
        " job_id INTEGER NOT NULL, state TEXT NOT NULL);"
        "INSERT INTO job VALUES (0, 4, 5, 'running');"
    )
    old.commit()
    old.close()
    outbox = Outbox(path)
    assert outbox.job() == (4, 5, JobStatus.RUNNING, None)
    outbox.append(4, 5, JobStatus.RUNNING, progress=Progress(item=0))
    record = outbox.job()
    assert record is not None and record.last_item == 0
    outbox.close()
