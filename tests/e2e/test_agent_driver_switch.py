"""``gosd agent --driver KIND`` on a configuration the control plane generated: each driver
kind reads its own ``[driver.<kind>]`` table, so switching kinds never breaks the file;
files of the previous version (one ``[driver.settings]`` table) keep working.

Real processes: ``gosd serve`` with its embedded broker, ``gosd nodes add --agent-config``
and ``gosd agent``, observed through the HTTP API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from shared import agent_config
from tests.e2e.fleet import Fleet

pytestmark = pytest.mark.integration


@pytest.fixture
async def fleet(tmp_path: Path, database_url: str) -> AsyncIterator[Fleet]:
    fleet = Fleet(tmp_path, database_url, "embedded")
    try:
        await fleet.start_control_plane()
        yield fleet
    finally:
        await fleet.close()


async def driver_of(fleet: Fleet, node_id: int) -> Any:
    """The driver kind the node's agent announced in its birth message."""
    status = await fleet.get(f"/api/v2/nodes/{node_id}/status")
    return status["details"].get("driver")


async def run_one_job(fleet: Fleet, node_id: int) -> list[dict[str, Any]]:
    """A plan with no files run once to its end; answers the progress of its ``running``
    events (the fake driver reports one per step)."""
    r = await fleet.http.post(
        "/api/v2/plans/", headers=fleet.headers, json={"name": "p", "node_id": node_id}
    )
    assert r.status_code == 201, r.text
    plan_id = r.json()["id"]
    r = await fleet.http.post(f"/api/v2/plans/{plan_id}/jobs/", headers=fleet.headers)
    assert r.status_code == 201, r.text
    job = await fleet.wait_job(
        plan_id, 1, lambda j: j["status"] in ("succeeded", "failed", "cancelled"), "job ended"
    )
    assert job["status"] == "succeeded", job
    events: list[dict[str, Any]] = await fleet.get(f"/api/v2/plans/{plan_id}/jobs/1/events")
    return [e["progress"] for e in events if e["state"] == "running"]


def log_of(fleet: Fleet, node_id: int) -> str:
    return (fleet.root / f"agent-{node_id}.log").read_text(errors="replace")


async def test_a_drones_generated_config_runs_the_fake_driver(fleet: Fleet) -> None:
    node_id, path = fleet.add_air_node("d1")
    text = path.read_text()
    assert "[driver.mavsdk]" in text and "[driver.fake]" in text, text
    fleet.start_agent(node_id, path, "--driver", "fake")
    await fleet.wait_node(node_id, "online")
    assert await driver_of(fleet, node_id) == "fake"
    progress = await run_one_job(fleet, node_id)
    assert (progress[-1]["current"], progress[-1]["total"]) == (5, 5), "the fake's default steps"
    assert "does not read" not in log_of(fleet, node_id), "a new file needs no note"


async def test_a_previous_versions_config_still_works(fleet: Fleet) -> None:
    """The file as the previous version wrote it: its one ``[driver.settings]`` table is the
    settings of ``driver.kind``; another kind chosen by ``--driver`` ignores it, saying so."""
    node_id, path = fleet.add_air_node("d2")
    config = agent_config.load(path, environ={})
    old_format = (
        f'[node]\nid = {node_id}\nsecret = "{config.node.secret}"\n'
        f'[broker]\nurl = "{config.broker.url}"\n'
        f'[control_plane]\nurl = "{config.control_plane.url}"\n'
        f'[agent]\ndata_dir = "{config.agent.data_dir}"\n'
    )
    path.write_text(
        old_format + '[driver]\nkind = "mavsdk"\n'
        '[driver.settings]\nconnection = "udpin://0.0.0.0:14540"\n'
    )
    agent = fleet.start_agent(node_id, path, "--driver", "fake")
    await fleet.wait_node(node_id, "online")
    assert await driver_of(fleet, node_id) == "fake"
    assert log_of(fleet, node_id).count("[driver.settings] is for the mavsdk driver") == 1
    fleet.stop_agent(node_id)
    assert agent.returncode == 0, log_of(fleet, node_id)

    # The old table still configures the kind the file names.
    path.write_text(old_format + '[driver]\nkind = "fake"\n[driver.settings]\nsteps = 2\n')
    fleet.start_agent(node_id, path)
    await fleet.wait_node(node_id, "online")
    progress = await run_one_job(fleet, node_id)
    assert (progress[-1]["current"], progress[-1]["total"]) == (2, 2), "steps = 2 was read"
