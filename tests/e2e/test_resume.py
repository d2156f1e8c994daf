"""An interrupted survey, finished by a resume; a survey flown across an agent restart.

Every piece is a process of its own (HTTP API, broker, edge agent, ``gosd sim``); the
battery is cut and restored through the simulator's fault socket, the agent killed with
SIGKILL. The promise checked is the operator's: every item of the file is in the jobs'
histories exactly once, in the order flown, and the resumed job says what it resumes.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from shared.mission import parse_mission_file
from tests.e2e.test_flight import Flight, down, flying

pytestmark = [pytest.mark.integration, pytest.mark.flight]

SURVEY_FILE = Path(__file__).resolve().parents[1] / "missions" / "resume_survey.plan"
SURVEY = SURVEY_FILE.read_bytes()
ITEMS = len(parse_mission_file(SURVEY, filename=SURVEY_FILE.name).mission)
"""13: takeoff, speed, camera trigger on, eight lane ends (3-10), trigger off, return."""
LANES = range(3, 11)


async def vehicle_item(flight: Flight) -> int:
    """The item the vehicle flies, as the simulator has it (not as the agent says)."""
    return int((await flight.sim.status(0))["mission_seq"])


async def test_a_survey_cut_short_by_a_low_battery_is_finished_by_its_resume(
    tmp_path: Path, database_url: str
) -> None:
    async with flying(tmp_path, database_url) as flight:
        ((node_id, _),) = flight.nodes
        plan_id = await flight.plan(node_id, SURVEY, SURVEY_FILE.name)
        first = await flight.run(plan_id)
        await flight.wait_item(plan_id, first, 5)  # two lane ends flown
        await flight.sim.request(0, "battery", 12)  # below BAT_LOW_THR: the vehicle returns
        job = await flight.ended(plan_id, first)
        story = await flight.story(plan_id, first)
        assert (job["status"], job["error"]["code"]) == ("failed", "low_battery"), story
        reached = await flight.reached(plan_id, first)
        assert reached == list(range(len(reached))) and job["last_item"] == reached[-1], story
        assert reached[-1] in LANES, f"cut mid-survey: {reached}"
        await flight.sim.wait(0, "landed at home and disarmed", down, 60)

        await flight.sim.request(0, "battery", 100)  # a fresh battery
        r = await flight.fleet.http.post(
            f"/api/v2/plans/{plan_id}/jobs/{first}/resume", headers=flight.fleet.headers
        )
        assert r.status_code == 201, r.text
        resumed: dict[str, Any] = r.json()
        start = reached[-1] + 1
        assert resumed["resume_of"] == first
        assert resumed["extra"]["resume_from"] == str(start)
        second = int(resumed["job_id"])
        job = await flight.ended(plan_id, second)
        story = await flight.story(plan_id, second)
        assert job["status"] == "succeeded", story
        rest = await flight.reached(plan_id, second)
        assert reached + rest == list(range(ITEMS)), "every item once, across the two jobs"
        events = await flight.events(plan_id, second)
        assert events[0]["detail"] == f"resumes job {first}: items {start}..{ITEMS - 1} of 13 left"
        stages = [s for e in events if (s := (e.get("progress") or {}).get("stage"))]
        assert stages[0] == "takeoff" and stages[-1] == "landed", story
        progress = [e["progress"] for e in events if "item" in (e.get("progress") or {})]
        assert [(p["current"], p["total"]) for p in progress] == [
            (item + 1, ITEMS) for item in rest
        ]
        state = await flight.sim.status(0)
        # a takeoff, speed and camera trigger set again, then the rest of the file
        assert state["mission_items"] == 3 + ITEMS - start, state
        assert down(state)

        again = await flight.fleet.http.post(
            f"/api/v2/plans/{plan_id}/jobs/{second}/resume", headers=flight.fleet.headers
        )
        assert again.status_code == 409 and "succeeded" in again.text


async def test_an_agent_killed_mid_survey_comes_back_and_the_history_misses_no_item(
    tmp_path: Path, database_url: str
) -> None:
    async with flying(tmp_path, database_url) as flight:
        ((node_id, config),) = flight.nodes
        plan_id = await flight.plan(node_id, SURVEY, SURVEY_FILE.name)
        job_id = await flight.run(plan_id)
        await flight.wait_item(plan_id, job_id, 4)
        flight.fleet.stop_agent(node_id, signal.SIGKILL)
        last_reported = (await flight.reached(plan_id, job_id))[-1]

        async def went_on() -> bool:  # items reached while nobody watched
            return await vehicle_item(flight) >= last_reported + 3

        await flight.fleet.eventually(went_on, "the vehicle flew on without its agent", 60)
        flight.fleet.start_agent(node_id, config)
        job = await flight.ended(plan_id, job_id)
        story = await flight.story(plan_id, job_id)
        assert job["status"] == "succeeded", story
        assert await flight.reached(plan_id, job_id) == list(range(ITEMS)), story
        details = [e["detail"] for e in await flight.events(plan_id, job_id)]
        assert sum("re-attached" in d for d in details) == 1, story
        assert job["last_item"] == ITEMS - 1
