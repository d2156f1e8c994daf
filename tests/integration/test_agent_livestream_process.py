"""The live video of a real agent process, driven as the control plane drives it: RPC
over a real broker (Mosquitto) starts and stops an on-demand stream that reaches a
stand-in ingest, its health arrives on ``msg/livestream``, a dead source is reported
failed there, and an unknown point is an RPC error naming it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from shared import agent_config, topics
from shared.agent_config import LivestreamSection
from shared.errors import RpcErrorCode
from tests.integration.agent_harness import (
    AgentProcess,
    ControlPlane,
    Mosquitto,
    control_plane,
    make_config,
    run_agent,
)
from tests.integration.ingest_server import IngestServer
from tests.integration.test_agent_livestream import decode_flv, frames_in
from tests.support import until

pytestmark = pytest.mark.integration

NODE = 7


@pytest.fixture
async def ingest() -> AsyncIterator[IngestServer]:
    async with IngestServer(topics.node_username(NODE), f"node-secret-{NODE}") as server:
        yield server


@pytest.fixture
def agent(broker: Mosquitto, ingest: IngestServer, tmp_path: Path) -> Iterator[AgentProcess]:
    path = make_config(tmp_path, broker.url, node_id=NODE, control_plane_url=ingest.url)
    config = agent_config.load(path, environ={})
    streams = [
        LivestreamSection(point_id=11, source="testsrc", width=320, height=180, fps=15),
        LivestreamSection(point_id=12, source="/dev/video97", mode="always"),
    ]
    agent_config.write(msgspec.structs.replace(config, livestream=streams), path)
    with run_agent(path) as agent:
        yield agent


@pytest.fixture
async def cp(broker: Mosquitto, agent: AgentProcess) -> AsyncIterator[ControlPlane]:
    async with control_plane(broker, NODE) as cp:
        status = await cp.wait(topics.status(NODE), lambda s: s["code"] == 0)
        assert {"livestream_start", "livestream_stop"} <= set(status["agent"]["capabilities"])
        yield cp


def stream(point_id: int, state: str) -> Any:
    def fits(message: Any) -> bool:
        return any(s["point_id"] == point_id and s["state"] == state for s in message["streams"])

    return fits


async def test_on_demand_stream_over_rpc_and_health_over_mqtt(
    cp: ControlPlane, ingest: IngestServer, agent: AgentProcess
) -> None:
    health = topics.msg(NODE, "livestream")
    first = await cp.wait(health, stream(12, "failed"))
    dead = next(s for s in first["streams"] if s["point_id"] == 12)
    assert "no such device /dev/video97" in dead["last_error"] and dead["source_errors"] == 1
    idle = next(s for s in first["streams"] if s["point_id"] == 11)
    assert idle["state"] == "off" and not idle["requested"] and not ingest.uploads

    answer = await cp.call("livestream_start", {"point_id": 11})
    assert answer["result"]["point_id"] == 11
    await until(frames_in(ingest, 10), "the started stream reaches the ingest", 15)
    live = await cp.wait(health, stream(11, "live"))
    entry = next(s for s in live["streams"] if s["point_id"] == 11)
    assert entry["requested"] and entry["passthrough"] is False and entry["mode"] == "on_demand"

    await cp.call("livestream_stop", {"point_id": 11})
    await cp.wait(health, stream(11, "off"))

    async def ended() -> bool:
        return ingest.uploads[0].ended

    await until(ended, "a stop ends the PUT's body cleanly")
    decoded = decode_flv(bytes(ingest.uploads[0].body))
    assert (decoded.codec, decoded.width, decoded.height) == ("h264", 320, 180)

    unknown = await cp.call("livestream_start", {"point_id": 99})
    assert unknown["error"]["code"] == RpcErrorCode.INVALID_PARAMS
    assert "point 99" in unknown["error"]["data"]["detail"]
    # A dead source is not retried behind the operator's back: still one error.
    await cp.drain(1.0)
    latest = cp.all(health)[-1]
    assert next(s for s in latest["streams"] if s["point_id"] == 12)["source_errors"] == 1

    # Streaming again when the agent is stopped: the PUT's body ends cleanly too.
    await cp.call("livestream_start", {"point_id": 11})
    await until(frames_in(ingest, 5, upload=1), "the restarted stream reaches the ingest", 15)
    assert await asyncio.to_thread(agent.stop) == 0

    async def ended_again() -> bool:
        return ingest.uploads[1].ended

    await until(ended_again, "the agent's clean stop ends the stream's body cleanly")
