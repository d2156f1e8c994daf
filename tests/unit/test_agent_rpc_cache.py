"""The RPC server's request-id LRU, without a broker."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from edge_agent.rpc import RpcServer
from shared import codec


@dataclass
class FakeLink:
    node_id: int = 3
    queue: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    sent: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    def subscribe(self, topic: str, maxsize: int = 100) -> asyncio.Queue[bytes]:
        return self.queue

    async def publish(self, topic: str, payload: bytes, **_: Any) -> None:
        self.sent.put_nowait(msgspec.json.decode(payload))


async def test_ids_are_remembered_up_to_the_cache_size() -> None:
    link = FakeLink()
    calls: list[str] = []

    async def count(params: Mapping[str, Any]) -> Any:
        calls.append(params["tag"])
        return {"n": len(calls)}

    server = RpcServer(link, {"count": count}, cache_size=2)  # type: ignore[arg-type]

    async def ask(request_id: str) -> dict[str, Any]:
        body = {
            "jsonrpc": "2.0",
            "id": request_id,
            "method": "count",
            "params": {"tag": request_id},
        }
        link.queue.put_nowait(codec.encode(body))
        async with asyncio.timeout(2):
            return await link.sent.get()

    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(server.run())
        a = await ask("a")
        assert await ask("a") == a == {"jsonrpc": "2.0", "id": "a", "result": {"n": 1}}
        await ask("b")
        await ask("c")  # "a" falls out of the cache
        assert (await ask("a"))["result"] == {"n": 4}
        assert (await ask("c"))["result"] == {"n": 3}
        task.cancel()
    assert calls == ["a", "b", "c", "a"]
