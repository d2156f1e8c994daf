"""The control plane's live video relay on a real port, and a node publishing to it.

The control plane runs under uvicorn on 127.0.0.1 in the test's process (so a test can
read the relay's counters); a ``Publisher`` is a node's httpx chunked PUT of FFmpeg's
FLV muxer output (``tests.flv_source``), paced in real time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from control_plane.app import create_app
from control_plane.live.hub import LiveHub
from control_plane.server import bind
from control_plane.settings import Settings
from tests.conftest import ManualClock, password_form
from tests.flv_source import FlvEncoder, paced_body
from tests.support import until

V2 = "/gosd/api/v2"


@dataclass
class Live:
    base: str
    hub: LiveHub
    http: httpx.AsyncClient
    clock: ManualClock
    user: dict[str, str]
    other: dict[str, str]
    node_id: int
    point_id: int
    node: dict[str, str]
    second_node: dict[str, str]
    map_point_id: int

    def path(self, point_id: int | None = None, node_id: int | None = None) -> str:
        return f"{V2}/nodes/{node_id or self.node_id}/points/{point_id or self.point_id}/live.flv"


async def login(http: httpx.AsyncClient, form: dict[str, str]) -> dict[str, str]:
    r = await http.post("/gosd/oauth/token", data=form)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


async def add_node(http: httpx.AsyncClient, admin: dict[str, str]) -> tuple[dict[str, Any], str]:
    body = {
        "name": "cam",
        "type_name": "air",
        "points": [
            {"name": "front", "point_type_name": "livestream_flv"},
            {"name": "map", "point_type_name": "map"},
        ],
    }
    r = await http.post(f"{V2}/nodes/", headers=admin, json=body)
    assert r.status_code == 201, r.text
    node = r.json()
    return node, node["secret"]


@contextlib.asynccontextmanager
async def serve_live(settings: Settings, clock: ManualClock) -> AsyncIterator[Live]:
    """The control plane on a real port, a node with a live point, tokens of everyone.

    Short waits: a viewer of a stream that does not come is answered 503 after 3 s, and
    viewers of a publisher that left are ended after 1 s."""
    settings = settings.with_changes(live_wait_s=3.0, live_grace_s=1.0, rpc_timeout_s=1)
    app = create_app(settings, clock=clock)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", log_level="warning", timeout_graceful_shutdown=1)
    )
    async with asyncio.TaskGroup() as group:
        serving = group.create_task(server.serve(sockets=[sock]))
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=20) as http:

            async def up() -> bool:
                with contextlib.suppress(httpx.TransportError):
                    return (await http.get(f"{V2}/ok")).status_code == 200
                return False

            await until(up, "the server answers")
            admin = await login(http, password_form())
            node, secret = await add_node(http, admin)
            other_node, other_secret = await add_node(http, admin)
            creds = {"grant_type": "client_credentials", "client_secret": secret}
            node_auth = await login(http, {**creds, "client_id": f"node-{node['id']}"})
            second = await login(
                http,
                {
                    "grant_type": "client_credentials",
                    "client_id": f"node-{other_node['id']}",
                    "client_secret": other_secret,
                },
            )
            yield Live(
                base=base,
                hub=app.state.live,
                http=http,
                clock=clock,
                user=admin,
                other=await login(http, password_form("other", "otherother")),
                node_id=node["id"],
                point_id=node["points"][0]["id"],
                node=node_auth,
                second_node=second,
                map_point_id=node["points"][1]["id"],
            )
        server.should_exit = True
        await serving


class Publisher:
    """A node pushing PyAV's FLV in real time; ``response`` once the PUT ended."""

    def __init__(self, live: Live, encoder: FlvEncoder, frames: int | None) -> None:
        """``frames``: how many to send before the body ends; None: until stopped."""
        self.encoder = encoder
        self.sent_at: dict[int, float] = {}
        self._task: asyncio.Task[httpx.Response] | None = None
        self._live, self._frames = live, frames

    async def _put(self, client: httpx.AsyncClient) -> httpx.Response:
        return await client.put(
            self._live.path(),
            headers={**self._live.node, "Content-Type": "video/x-flv"},
            content=paced_body(self.encoder, self._frames),
        )

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Publisher]:
        async with (
            httpx.AsyncClient(base_url=self._live.base, timeout=60) as client,
            asyncio.TaskGroup() as group,
        ):
            self._task = group.create_task(self._put(client))
            try:
                yield self
            finally:
                if not self._task.done():
                    self._task.cancel()

    async def response(self) -> httpx.Response:
        assert self._task is not None
        return await self._task


async def live_channel(live: Live) -> bool:
    channel = live.hub.channels.get((live.node_id, live.point_id))
    return channel is not None and channel.live and bool(channel.gop)
