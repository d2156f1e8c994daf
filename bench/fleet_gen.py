"""The simulated fleet of the fleet-load benchmark, run as its own process.

``python -m bench.fleet_gen CONFIG.json``: one MQTT connection per node, each with the
node's own credentials, so the broker authenticates and authorises N real clients. It
lives in a process of its own so that its CPU is not counted as the control plane's,
and it reports its own CPU and how late it sent: a generator that cannot keep its
schedule would make the control plane look slower than it is.

Protocol with the parent: JSON lines on stdout (``{"ready": ...}`` once every node is
connected and has published its retained status, ``{"done": ...}`` at the end); it
stops when its stdin closes (or after ``max_s``, so it never runs on unattended).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiomqtt
import msgspec

from bench.stats import percentile, raise_open_files
from shared import topics
from shared.codec import encode
from shared.messages import AgentInfo, NodeStatus, StatusCode

TELEMETRY_NAME = "bench"
"""The telemetry topic the benchmark publishes on: ``nodes/{id}/msg/bench``."""
TICK_S = 0.005
"""How often the scheduler wakes to send what is due (the spread's resolution)."""


class GenConfig(msgspec.Struct, frozen=True):
    host: str
    port: int
    nodes: list[tuple[int, str]]
    """``(node id, secret)`` of every node to simulate."""
    batch: int = 50
    """Connections opened at once: a whole fleet connecting in one burst floods a broker."""
    max_s: float = 600.0


def _say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


async def _connect(config: GenConfig, node_id: int, secret: str) -> aiomqtt.Client:
    client = aiomqtt.Client(
        config.host,
        config.port,
        username=topics.node_username(node_id),
        password=secret,
        identifier=f"bench-node-{node_id}",
        keepalive=60,
        timeout=30,
    )
    await client.__aenter__()
    status = NodeStatus(
        code=StatusCode.ONLINE,
        msg="online",
        timestamp=f"{time.time():.3f}",
        status={"type": "drone"},
        agent=AgentInfo(version="bench"),
    )
    await client.publish(topics.status(node_id), encode(status), qos=1, retain=True, timeout=30)
    return client


async def _stdin_closed() -> None:
    await asyncio.to_thread(sys.stdin.read)


async def _telemetry(clients: list[tuple[int, aiomqtt.Client]], stop: asyncio.Task[None]) -> None:
    """1 Hz per node, node ``i`` of ``n`` at ``i/n`` into every second, until ``stop``."""
    n = len(clients)
    names = [topics.msg(node_id, TELEMETRY_NAME) for node_id, _ in clients]
    slips: list[float] = []
    sent = 0
    cpu0, start = time.process_time(), time.monotonic()
    nxt = 0  # index of the next send, counted over all seconds: second nxt // n, node nxt % n
    while not stop.done() and time.monotonic() - start < 3600:
        now = time.monotonic()
        while nxt // n + (nxt % n) / n <= now - start:
            i = nxt % n
            due = start + nxt // n + i / n
            slips.append(now - due)
            payload = json.dumps({"t": time.time(), "n": nxt // n}).encode()
            try:
                await clients[i][1].publish(names[i], payload, qos=0)
            except aiomqtt.MqttError:
                pass  # counted as not sent; the summary shows the shortfall
            else:
                sent += 1
            nxt += 1
        await asyncio.sleep(TICK_S)
    elapsed = time.monotonic() - start
    _say(
        done=True,
        sent=sent,
        rate=sent / elapsed if elapsed else 0.0,
        cpu_pct=100 * (time.process_time() - cpu0) / elapsed if elapsed else 0.0,
        slip_p50_ms=1000 * percentile(slips, 50),
        slip_p99_ms=1000 * percentile(slips, 99),
    )


async def main(config: GenConfig) -> None:
    raise_open_files(len(config.nodes) + 256)
    clients: list[tuple[int, aiomqtt.Client]] = []
    started = time.monotonic()
    try:
        for at in range(0, len(config.nodes), config.batch):
            batch = config.nodes[at : at + config.batch]
            made = await asyncio.gather(
                *(_connect(config, node_id, secret) for node_id, secret in batch)
            )
            clients.extend(zip((node_id for node_id, _ in batch), made, strict=True))
        _say(ready=True, connected=len(clients), connect_s=time.monotonic() - started)
        async with asyncio.timeout(config.max_s), asyncio.TaskGroup() as tg:
            stop = tg.create_task(_stdin_closed())
            await _telemetry(clients, stop)
    finally:
        await asyncio.gather(
            *(c.__aexit__(None, None, None) for _, c in clients), return_exceptions=True
        )


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        asyncio.run(main(msgspec.json.decode(f.read(), type=GenConfig)))
