"""``gosd demo`` as a new user meets it: the seed's curl examples, then the camera.

``gosd demo`` builds the seed's example world (user demo, client 000000, a drone with
a ``livestream_flv`` point and a depot), so each answer can be compared with the seed.

Its live video runs as separate processes, as in the field: the simulator's camera
(synthetic H.264 stamped with its capture time), drone 1's edge agent passing it through
to the control plane's relay as FLV, and a viewer. The stream is on demand: nothing is
encoded or sent until someone watches, and it stops a while after the last viewer left.
An independent decoder (PyAV's) reads what the relay serves, and Debian's Chromium plays
the player page the demo prints. (One demo per module: two demos started at once may
pick the same UDP ports for their simulated drones.)
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import av
import httpx
import pytest
from playwright.async_api import Browser

from control_plane.demo_mission import HOME, sample_plan
from shared.flv import FlvParser, FlvTag
from shared.video_stamp import find_in_avcc
from tests.browser import Recorded
from tests.conftest import password_form
from tests.e2e.processes import gosd_env, player_url, running
from tests.support import until, until_sync

pytestmark = pytest.mark.integration

ON_DEMAND_FIRST_FRAME_S = 4.0
"""The issue's aim is 2 s (measured ~0.7 s here, see ``bench/live_video.py``); the test
allows twice that for a loaded CI machine, and still fails on a stream that waits for a
key frame or a probe of several seconds."""
LINGER_S = 1
"""``GOSD_LIVE_LINGER_S`` of this demo: the agent is asked to stop 1 s after the last
viewer left."""


@pytest.fixture(scope="module")
def printed() -> list[str]:
    """What the demo printed (its walkthrough, the player URL...)."""
    return []


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, printed: list[str]) -> httpx.Client:  # type: ignore[misc]
    env = gosd_env(tmp_path_factory.mktemp("unused"), GOSD_LIVE_LINGER_S=str(LINGER_S))
    with (
        running("demo", "--port", "0", env=env, output=printed) as (base_url, _proc),
        httpx.Client(base_url=base_url, timeout=30) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def bearer(demo: httpx.Client) -> dict[str, str]:
    # curl .../oauth/token -F grant_type="password" -F username=... (multipart, as the seed)
    r = demo.post(
        "/oauth/token",
        files={
            "grant_type": (None, "password"),
            "username": (None, "demo"),
            "password": (None, "demodemo"),
            "client_id": (None, "000000"),
            "client_secret": (None, "999999"),
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["access_token"]) == 64 and int(body["access_token"], 16) >= 0
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 7200
    assert isinstance(body["created_at"], int)
    return {"Authorization": "Bearer " + body["access_token"]}


def test_ok(demo: httpx.Client) -> None:
    r = demo.get("/api/v2/ok")
    assert r.status_code == 200
    assert set(r.json()) == {"ok"}


def test_nodes_in_the_seed_shape(demo: httpx.Client, bearer: dict[str, str]) -> None:
    r = demo.get("/api/v1/nodes/", headers=bearer)
    assert r.status_code == 200
    drone, depot, *more_drones = r.json()
    assert {k: drone[k] for k in ("id", "name", "description", "type_name")} == {
        "id": 1,
        "name": "Drone",
        "description": "A Test Drone",
        "type_name": "air",
    }
    (point,) = drone["points"]
    assert {k: point[k] for k in ("id", "name", "node_id", "point_type_id", "point_type_name")} == {
        "id": 1,
        "name": "aa",
        "node_id": 1,
        "point_type_id": 2,
        "point_type_name": "livestream_flv",
    }
    assert depot["name"] == "Depot" and depot["type_name"] == "depot" and depot["points"] == []
    assert [(d["name"], d["type_name"]) for d in more_drones] == [
        ("Drone 2", "air"),
        ("Drone 3", "air"),
    ]


def test_blobs_plans_and_jobs_as_the_seed(
    demo: httpx.Client, bearer: dict[str, str], tmp_path: Path
) -> None:
    # POST /api/v2/blobs/ -F c1=@a -F c2=@b  ->  {"c1": "8", "c2": "9"} (ids as strings)
    r = demo.post(
        "/api/v2/blobs/",
        headers=bearer,
        files={"c1": ("square.plan", sample_plan(HOME)), "c2": ("go.sum", b"sum\n")},
    )
    assert r.status_code == 201, r.text
    ids = r.json()
    assert set(ids) == {"c1", "c2"} and all(v.isdigit() for v in ids.values())

    # PUT /api/v2/blobs/:id -F c=@go.mod  ->  {"id": 20, "filename": "go.mod"}
    r = demo.put(
        f"/api/v2/blobs/{ids['c2']}", headers=bearer, files={"c": ("go.mod", b"module y\n")}
    )
    assert r.status_code == 200
    assert r.json() == {"id": int(ids["c2"]), "filename": "go.mod"}
    assert demo.get(f"/api/v2/blobs/{ids['c2']}", headers=bearer).content == b"module y\n"

    # POST /api/v2/plans/ (JSON) answers the plan in the same shape
    plan_body = {
        "name": "233",
        "description": "test",
        "node_id": 1,
        "files": {"mission": ids["c1"]},
        "extra": {"key1": "value1", "key2": "value2", "key3": "value3"},
    }
    r = demo.post("/api/v2/plans/", headers=bearer, json=plan_body)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert {k: plan[k] for k in plan_body} == plan_body

    # GET /api/v2/plans/ lists it after the demo's sample plan; PUT replaces it
    listed = demo.get("/api/v2/plans/", headers=bearer).json()
    assert [p["id"] for p in listed] == [1, plan["id"]]
    r = demo.put(f"/api/v2/plans/{plan['id']}", headers=bearer, json={**plan_body, "name": "234"})
    assert r.status_code == 200 and r.json()["name"] == "234"

    # POST /api/v2/plans/:id/jobs/ runs it
    r = demo.post(f"/api/v2/plans/{plan['id']}/jobs/", headers=bearer)
    assert r.status_code == 201
    job = r.json()
    assert {"id", "job_id", "plan_id", "files", "extra", "created_at", "updated_at"} <= set(job)
    assert job["plan_id"] == plan["id"] and job["job_id"] == 1 and job["status"] == "queued"

    # GET /api/v2/plans/:id/jobs/ answers 200 with the list
    r = demo.get(f"/api/v2/plans/{plan['id']}/jobs/", headers=bearer)
    assert r.status_code == 200 and [j["id"] for j in r.json()] == [job["id"]]

    # The demo's drone agent takes the job and flies the mission on its simulated vehicle
    until_sync(
        lambda: (
            demo.get(f"/api/v2/plans/{plan['id']}/jobs/1", headers=bearer).json()["status"]
            == "running"
        ),
        "the demo's agent runs the job",
        # The agent may still be finding its vehicle (the demo just started), on a
        # machine busy with other tests' browsers and encoders.
        within=60,
    )

    # POST /api/v2/plans/:id/jobs/cancel (the seed's own form) cancels the active job,
    # on the node: the answer comes once its agent reports the job cancelled
    r = demo.post(f"/api/v2/plans/{plan['id']}/jobs/cancel", headers=bearer)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    events = demo.get(f"/api/v2/plans/{plan['id']}/jobs/1/events", headers=bearer).json()
    assert [e["state"] for e in events][-1] == "cancelled" and events[-1]["seq"] is not None
    assert demo.get(f"/api/v2/plans/{plan['id']}/running", headers=bearer).json() == {}

    # DELETE /api/v2/plans/:id answers the deleted plan; the blob can then go too
    r = demo.delete(f"/api/v2/plans/{plan['id']}", headers=bearer)
    assert r.status_code == 200 and r.json()["id"] == plan["id"]
    assert demo.get(f"/api/v2/plans/{plan['id']}", headers=bearer).status_code == 404
    r = demo.delete(f"/api/v2/blobs/{ids['c1']}", headers=bearer)
    assert r.status_code == 200
    assert demo.get(f"/api/v2/blobs/{ids['c1']}", headers=bearer).status_code == 404


def test_the_walkthroughs_sample_plan_flies(demo: httpx.Client, bearer: dict[str, str]) -> None:
    # Node 1 may still be returning from the cancel above: a job waits for it to be down
    def standby() -> bool:
        r = demo.get("/api/v2/nodes/1/msg/drone_status", headers=bearer)
        return r.status_code == 200 and r.json()["data"]["status"] == "standby"

    until_sync(standby, "drone 1 is on the ground", within=60)
    plan = demo.get("/api/v2/plans/1", headers=bearer).json()
    assert plan["name"] == "Square" and set(plan["files"]) == {"mission"}
    r = demo.post("/api/v2/plans/1/jobs/", headers=bearer)
    assert r.status_code == 201, r.text
    job_id = r.json()["job_id"]

    def waypoint_reached() -> bool:
        events = demo.get(f"/api/v2/plans/1/jobs/{job_id}/events", headers=bearer).json()
        assert events[-1]["state"] not in ("failed", "cancelled"), events[-1]
        return any((e["progress"] or {}).get("item", -1) >= 1 for e in events)

    until_sync(waypoint_reached, "the sample mission's first waypoint is reached", within=60)
    position = demo.get("/api/v2/nodes/1/msg/position", headers=bearer).json()["data"]
    assert position["height"] > 5, position


# The demo's camera
class Camera:
    """Drone 1's camera as the demo's output names it."""

    def __init__(self, base: str, printed: list[str]) -> None:
        self.base = base
        self.player_url = player_url(printed)
        src = parse_qs(urlsplit(self.player_url).query)["src"][0]
        self.viewer_url = base.removesuffix("/gosd") + src
        """The player URL's ``src``: the relay's viewer path with a signed token."""


@pytest.fixture
def camera(demo: httpx.Client, printed: list[str]) -> Camera:
    return Camera(str(demo.base_url).rstrip("/"), printed)


async def _user_headers(http: httpx.AsyncClient) -> dict[str, str]:
    r = await http.post("/oauth/token", data=password_form())
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


async def _livestream(http: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any] | None:
    r = await http.get("/api/v2/nodes/1/msg/livestream", headers=headers)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    streams: list[dict[str, Any]] = r.json()["data"]["streams"]
    assert [s["point_id"] for s in streams] == [1]
    return streams[0]


async def _frames(chunks: AsyncIterator[bytes], count: int) -> tuple[bytes, list[FlvTag], float]:
    """The FLV bytes up to ``count`` video frames, those frames, and when the first came."""
    received, parser, frames = bytearray(), FlvParser(), []
    first = 0.0
    async for chunk in chunks:
        received += chunk
        for tag in parser.feed(chunk):
            if isinstance(tag, FlvTag) and tag.is_frame:
                first = first or time.monotonic()
                frames.append(tag)
        if len(frames) >= count:
            break
    return bytes(received), frames, first


async def test_the_camera_starts_when_watched_and_is_h264_with_its_capture_time(
    camera: Camera,
) -> None:
    async with httpx.AsyncClient(base_url=camera.base, timeout=30) as http:
        headers = await _user_headers(http)

        async def online() -> bool:
            r = await http.get("/api/v2/nodes/1/status", headers=headers)
            return r.status_code == 200 and r.json()["state"] == "online"

        await until(online, "drone 1's agent is online", within=30)
        before = await _livestream(http, headers)
        assert before is None or before["state"] == "off", before  # nobody watched yet

        asked = time.monotonic()
        async with http.stream("GET", camera.viewer_url) as r:
            assert r.status_code == 200
            received, frames, first = await _frames(r.aiter_raw(), 45)  # 3 s at 15 fps
            read_at = time.time()
        assert first - asked < ON_DEMAND_FIRST_FRAME_S
        assert frames[0].is_keyframe

        with av.open(io.BytesIO(received), format="flv") as container:
            video = container.streams.video[0]
            decoded = list(container.decode(video))
        assert video.codec_context.name == "h264"
        assert len(decoded) >= 40
        assert {(f.width, f.height) for f in decoded} == {(640, 360)}
        # The camera's capture time travels in every frame, untouched by the agent's
        # passthrough and the relay: increasing, at the camera's rate, and recent.
        stamps = [find_in_avcc(t.data[5:]) for t in frames]
        assert None not in stamps
        times = [s / 1e6 for s in stamps if s is not None]
        assert times == sorted(times)
        assert 14 <= (len(times) - 1) / (times[-1] - times[0]) <= 16
        assert read_at - times[-1] < 1.0  # the last frame read was captured < 1 s ago

        live = await _livestream(http, headers)
        assert live is not None and live["passthrough"] and live["codec"] == "h264"

        async def stopped() -> dict[str, Any] | None:
            now = await _livestream(http, headers)
            return now if now is not None and now["state"] == "off" else None

        # Nobody watches: the control plane asks the agent to stop after the linger.
        off = await until(stopped, "the agent stops the stream", within=20)
        assert not off["requested"] and off["source_errors"] == 0


async def test_the_printed_player_page_shows_the_moving_camera(
    camera: Camera, browser: Browser, tmp_path: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    recorded = Recorded(context)
    page = await context.new_page()
    await page.goto(camera.player_url)
    await page.wait_for_function(
        "() => document.getElementById('player').dataset.state === 'playing'", timeout=30_000
    )

    async def frames() -> int:
        return int(await page.evaluate("() => window.gosdPlayer.framesDecoded"))

    start = await frames()
    picture = page.locator("#video")
    first = await picture.screenshot(path=str(tmp_path / "first.png"))

    async def moved_on() -> bool:
        return await frames() >= start + 15  # a second of the camera's frames

    await until(moved_on, "the page decodes the camera's frames", within=30)
    later = await picture.screenshot(path=str(tmp_path / "later.png"))
    # The camera draws its capture time and the vehicle's state: a live picture changes.
    assert first != later
    assert recorded.elsewhere(camera.base) == []
    await context.close()
