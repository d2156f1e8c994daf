"""Where a job's resume starts, and whether there is anything to resume (DESIGN §6).

A job that ended early records the last mission item its agent reported reached
(``Job.last_item``). Its resume is a new job of the same plan with
``extra.resume_from``: the item after it in the order the vehicle flies the mission
(``shared.mission.resume.resume_point``, DO_JUMPs followed). The mission file is read
here, as the agent will read it, so a resume that cannot fly is refused when it is asked
for (409, saying why), not on the drone: nothing left, or a stop inside a section a
DO_JUMP repeats. A job created directly with ``extra.resume_from`` is checked the same
way (422 at ``extra.resume_from``).

The resume pins the mission file the first job flew (its blob id under the same key), so
a plan edited afterwards cannot change what the item numbers mean; a plan edited
between the first job and its resume is caught by the item count, when it differs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from control_plane.db.models import Blob, Job, PlanFile
from control_plane.errors import Conflict, InvalidInput
from control_plane.services.blob_store import BlobStore
from control_plane.services.mission_files import read_capped
from shared.enums import JobStatus
from shared.job_options import parse_job_options
from shared.mission import MissionFile, MissionFileError, mission_file_key, parse_mission_file
from shared.mission.resume import ResumeError, check_resume, resume_point


@dataclass(frozen=True)
class JobMission:
    """The mission file a job flies: its ``files`` key, blob and parsed items."""

    key: str
    blob_id: int
    parsed: MissionFile

    @property
    def total(self) -> int:
        return len(self.parsed.mission)


async def job_mission(
    store: BlobStore, plan_id: int, job_files: dict[str, str]
) -> JobMission | None:
    """The mission of a run of ``plan_id`` with ``job_files`` on top of the plan's files
    (as dispatch builds the agent's job), parsed; None when there is none or it cannot
    be read any more (the agent would refuse the job, and says so)."""
    files = {pf.key: pf.blob_id for pf in await PlanFile.filter(plan_id=plan_id)}
    files |= {key: int(blob_id) for key, blob_id in job_files.items() if blob_id.isdigit()}
    key = mission_file_key(files)
    if key is None:
        return None
    blob = await Blob.get_or_none(id=files[key])
    if blob is None:
        return None
    data = await read_capped(store, blob.sha256)
    try:
        parsed = await asyncio.to_thread(parse_mission_file, data, filename=blob.filename)
    except MissionFileError:
        return None
    return JobMission(key, blob.id, parsed)


def check_resume_from(mission: JobMission | None, extra: dict[str, str]) -> None:
    """``InvalidInput`` at ``extra.resume_from`` when the job's mission cannot be flown
    from that item (the key's own bounds were checked with the other options)."""
    resume_from = parse_job_options(extra).resume_from
    if resume_from is None:
        return
    where = "extra.resume_from"
    if mission is None:
        raise InvalidInput(f"{where}: the job has no mission file to resume", location=where)
    try:
        check_resume(mission.parsed.mission, resume_from)
    except ResumeError as exc:
        raise InvalidInput(f"{where}: {exc}", location=where) from None


def resume_from(job: Job, plan_extra: dict[str, str], mission: JobMission | None) -> int:
    """The item ``job``'s resume starts with; ``Conflict`` saying why there is none."""
    run = f"job {job.job_id}"
    status = JobStatus(job.status)
    if not status.is_terminal:
        raise Conflict(f"{run} is still {status}: cancel it, or wait for its end", status=status)
    if status is JobStatus.SUCCEEDED:
        raise Conflict(f"{run} succeeded: its mission was flown to the end", status=status)
    if mission is None:
        raise Conflict(f"{run} has no mission file to resume (files key 'mission')")
    flown_total = (job.progress or {}).get("total")
    if flown_total and flown_total != mission.total:
        raise Conflict(
            f"the plan's mission changed since {run} flew it ({flown_total} items then, "
            f"{mission.total} now): run the plan again"
        )
    if job.last_item is not None:
        start = resume_point(mission.parsed.mission, job.last_item)
        after = f"after item {job.last_item}, the last {run} reached"
    else:  # nothing reached: from where the job itself started
        start = parse_job_options({**plan_extra, **job.extra}).resume_from or 0
        after = f"{run} reached no item"
    try:
        check_resume(mission.parsed.mission, start)
    except ResumeError as exc:
        raise Conflict(f"{run} cannot be resumed ({after}): {exc}") from None
    return start
