"""The baseline of the fleet-load benchmark: one bare MQTT subscriber, nothing else.

``python -m bench.bare_subscriber CONFIG.json`` subscribes to every node's telemetry
with the control plane's broker account and measures each message's lag as
``receive time - t``. It is what a broker and a Python client cost with no control
plane in the way; the control plane's lag is compared with it.

Same protocol as ``fleet_gen``: ``{"ready": ...}`` once subscribed, then the figures
of everything received until stdin closes, as one ``{"done": ...}`` JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

import aiomqtt
import msgspec

from bench.stats import percentile
from shared import topics
from shared.topics import CONTROL_PLANE_USERNAME, NodeTopic


class SubscriberConfig(msgspec.Struct, frozen=True):
    host: str
    port: int
    password: str
    """The control plane's broker password (user ``gosd-control-plane``)."""
    max_s: float = 600.0


async def _collect(client: aiomqtt.Client, lags: list[float]) -> None:
    async for message in client.messages:
        received = time.time()
        payload = message.payload
        if isinstance(payload, bytes | bytearray):
            try:
                lags.append(received - float(json.loads(payload)["t"]))
            except (ValueError, KeyError, TypeError):
                continue


async def main(config: SubscriberConfig) -> None:
    lags: list[float] = []
    async with aiomqtt.Client(
        config.host,
        config.port,
        username=CONTROL_PLANE_USERNAME,
        password=config.password,
        identifier=f"bench-bare-subscriber-{time.monotonic_ns()}",
        max_queued_incoming_messages=100_000,
    ) as client:
        await client.subscribe(topics.node_filter(NodeTopic.MSG), qos=0)
        print(json.dumps({"ready": True}), flush=True)
        started = time.monotonic()
        async with asyncio.TaskGroup() as tg:
            collector = tg.create_task(_collect(client, lags))
            try:
                async with asyncio.timeout(config.max_s):
                    await asyncio.to_thread(sys.stdin.read)
            except TimeoutError:
                pass
            finally:
                collector.cancel()
        elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "done": True,
                "count": len(lags),
                "rate": len(lags) / elapsed if elapsed else 0.0,
                "p50_ms": 1000 * percentile(lags, 50),
                "p99_ms": 1000 * percentile(lags, 99),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        asyncio.run(main(msgspec.json.decode(f.read(), type=SubscriberConfig)))
