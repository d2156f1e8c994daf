"""The player page (``/gosd/player/?src=...``) plays live FLV in a real browser.

Debian's Chromium (``tests.browser``) opens the page served by the real control plane
under uvicorn on 127.0.0.1. A node publishes H.264 in FLV (PyAV's encoder and muxer) to
its point through the relay; the page plays the point's viewer URL with a signed viewer
token, as a user given that URL would. Every request the browser makes is recorded; one
to any other host fails the test. Screenshots go to ``test-artifacts/player-page/``
(ignored by git; ``GOSD_TEST_ARTIFACTS`` moves it)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, BrowserContext, Page, expect

from control_plane.api.player_page import CONTENT_SECURITY_POLICY
from control_plane.settings import Settings
from tests.browser import Recorded
from tests.conftest import ManualClock
from tests.flv_source import FlvEncoder
from tests.live_relay import V2, Live, Publisher, live_channel, serve_live
from tests.support import until

STREAM = FlvEncoder(640, 360, rate=15, gop=15)
"""The size and rate the publisher sends (one key frame a second)."""
PLAY_TIMEOUT_S = 30
"""Chromium's start and the first keyframe on a busy 2-core machine."""
ARTIFACTS = Path(
    os.environ.get("GOSD_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts")
)


@dataclass(frozen=True)
class PlayerServer:
    live: Live

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>/gosd``"""
        return self.live.base + "/gosd"

    def page_url(self, src: str | None = None) -> str:
        url = self.base + "/player/"
        return url if src is None else url + "?src=" + quote(src, safe="")

    async def viewer_src(self) -> str:
        """The point's viewer URL with a signed viewer token (what a player is given)."""
        r = await self.live.http.post(
            f"{V2}/nodes/{self.live.node_id}/points/{self.live.point_id}/live-token",
            headers=self.live.user,
        )
        assert r.status_code == 200, r.text
        url: str = r.json()["url"]
        return url

    def publisher(self, seconds: float | None = None) -> Publisher:
        """A node publishing the point in real time, ``seconds`` long (None: no end)."""
        frames = None if seconds is None else round(seconds * STREAM.rate)
        return Publisher(self.live, FlvEncoder(STREAM.width, STREAM.height, 15, gop=15), frames)


@pytest.fixture
async def player_server(settings: Settings, clock: ManualClock) -> AsyncIterator[PlayerServer]:
    """The control plane under uvicorn on a free port of 127.0.0.1 with a node and its
    live point: the page and the relay share one origin."""
    async with serve_live(settings, clock) as live:
        yield PlayerServer(live)


@pytest.fixture
async def live_src(player_server: PlayerServer) -> AsyncIterator[str]:
    """The ``src`` of a live stream for the page: the viewer URL of a point that a node
    publishes through the relay, as long as the test runs."""
    async with player_server.publisher().running():
        await until(lambda: live_channel(player_server.live), "the node publishes")
        yield await player_server.viewer_src()


async def new_page(browser: Browser, **options: Any) -> tuple[BrowserContext, Page, Recorded]:
    context = await browser.new_context(**options)
    return context, await context.new_page(), Recorded(context)


async def player(page: Page) -> dict[str, Any]:
    """The page's own account of the stream (``window.gosdPlayer``)."""
    state: dict[str, Any] = await page.evaluate("({...window.gosdPlayer})")
    return state


async def wait_for_state(page: Page, state: str) -> None:
    # A function, not an expression: the page's policy forbids evaluating strings.
    await page.wait_for_function(
        "state => document.getElementById('player').dataset.state === state",
        arg=state,
        timeout=PLAY_TIMEOUT_S * 1000,
    )


async def screenshot(page: Page, name: str) -> Path:
    path = ARTIFACTS / "player-page" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    return path


async def plays_on(page: Page, seconds: float = 1.0) -> dict[str, Any]:
    """Wait until the picture moves on by ``seconds`` (frames decoded and the play
    position both advance); answers the state at the end."""
    first = await player(page)

    async def moved() -> dict[str, Any] | None:
        now = await player(page)
        if (
            now["currentTime"] >= first["currentTime"] + seconds
            and now["framesDecoded"] >= first["framesDecoded"] + seconds * STREAM.rate * 0.8
        ):
            return now
        return None

    return await until(moved, f"the video plays on by {seconds} s", within=PLAY_TIMEOUT_S)


@pytest.mark.integration
async def test_the_page_plays_the_live_stream_and_talks_only_to_this_server(
    browser: Browser, player_server: PlayerServer, live_src: str
) -> None:
    context, page, recorded = await new_page(browser, viewport={"width": 1280, "height": 800})
    response = await page.goto(player_server.page_url(live_src))
    assert response is not None and response.status == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY

    await wait_for_state(page, "playing")
    await expect(page.locator("#state")).to_have_text("playing")
    state = await plays_on(page, seconds=2.0)

    size = await page.eval_on_selector("#video", "v => [v.videoWidth, v.videoHeight]")
    assert size == [STREAM.width, STREAM.height]
    # Latency chasing keeps the buffer short (it jumps forward beyond 1 s).
    assert state["latencyS"] is not None and state["latencyS"] < 1.5
    await expect(page.locator("#latency")).to_have_text(re.compile(r"^\d+\.\d\d s$"))
    shown = int(await page.locator("#frames").inner_text())
    assert shown >= STREAM.rate * 2
    assert state["reconnects"] == 0 and state["error"] == ""
    await expect(page.locator("#message")).to_be_hidden()
    await screenshot(page, "playing")

    assert recorded.elsewhere(player_server.base) == []
    assert recorded.errors == []
    assert recorded.failed == []
    loaded = {url.split("?")[0] for url in recorded.urls}
    assert {
        player_server.page_url(),
        player_server.page_url() + "vendor/mpegts.js",
        player_server.page_url() + "player.js",
        player_server.live.base + player_server.live.path(),
    } <= loaded
    await context.close()


@pytest.mark.integration
async def test_on_a_tablet_the_stream_is_chosen_with_the_keyboard(
    browser: Browser, player_server: PlayerServer, live_src: str
) -> None:
    context, page, recorded = await new_page(
        browser, viewport={"width": 768, "height": 1024}, has_touch=True, is_mobile=True
    )
    await page.goto(player_server.page_url())
    await expect(page.locator("#state")).to_have_text("idle")
    # The address field has the focus: type and press Enter.
    await expect(page.get_by_label(re.compile("Stream address"))).to_be_focused()
    await page.keyboard.type(live_src)
    await page.keyboard.press("Enter")

    await wait_for_state(page, "playing")
    await plays_on(page)
    # The picture fills the width of the screen and keeps its shape.
    box = await page.locator("#video").bounding_box()
    assert box is not None and box["width"] >= 700
    # Nothing overflows sideways (no horizontal scrolling on a tablet).
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await screenshot(page, "tablet")
    assert recorded.elsewhere(player_server.base) == []
    await context.close()


@pytest.mark.integration
async def test_when_the_stream_ends_the_page_says_so_and_reconnects(
    browser: Browser, player_server: PlayerServer
) -> None:
    context, page, recorded = await new_page(browser)
    async with player_server.publisher(seconds=2).running():
        await page.goto(player_server.page_url(await player_server.viewer_src()))
        await wait_for_state(page, "playing")
        await wait_for_state(page, "ended")
    await expect(page.locator("#message")).to_contain_text("reconnecting in")
    # The node publishes again (as an agent does after a network cut): the page is back.
    async with player_server.publisher().running():
        await wait_for_state(page, "playing")
        await plays_on(page, seconds=0.5)

    state = await player(page)
    assert state["reconnects"] >= 1
    watched = [u for u in recorded.urls if u.split("?")[0].endswith(player_server.live.path())]
    assert len(watched) >= 2
    assert recorded.elsewhere(player_server.base) == []
    await context.close()


REFUSED = [
    "http://example.com/live.flv",
    "//example.com/live.flv",
    "https://127.0.0.2/gosd/api/v2/nodes/1/points/1/live.flv",
    "javascript:alert(1)",
    "data:video/x-flv;base64,RkxW",
]
"""Sources of other origins (or none): the page must refuse them and fetch nothing."""


@pytest.mark.integration
async def test_a_stream_of_another_origin_is_refused_and_never_fetched(
    browser: Browser, player_server: PlayerServer
) -> None:
    context, page, recorded = await new_page(browser)
    for src in REFUSED:
        await page.goto(player_server.page_url(src))

        await wait_for_state(page, "error")
        await expect(page.locator("#message")).to_contain_text("refused")
        await expect(page.locator("#message")).to_contain_text("plays only streams of")
        await expect(page.locator("#src")).to_have_value(src)
    assert recorded.elsewhere(player_server.base) == []
    assert not [u for u in recorded.urls if ".flv" in u.split("?")[0]]
    await context.close()


@pytest.mark.integration
async def test_a_refused_token_is_shown_and_not_retried(
    browser: Browser, player_server: PlayerServer
) -> None:
    context, page, _ = await new_page(browser)
    # An expired viewer token (the clock moved on past its 60 s): the relay answers 401.
    src = await player_server.viewer_src()
    player_server.live.clock.advance(61)
    await page.goto(player_server.page_url(src))

    await wait_for_state(page, "error")
    await expect(page.locator("#message")).to_contain_text("HTTP 401")
    await expect(page.locator("#message")).to_contain_text("token was refused")
    state = await player(page)
    assert state["reconnects"] == 0
    await context.close()


@pytest.mark.integration
async def test_a_failing_source_is_shown_with_its_error_and_retried(
    browser: Browser, player_server: PlayerServer
) -> None:
    context, page, _ = await new_page(browser)
    await page.goto(player_server.page_url("/gosd/player/no-such.flv"))

    await wait_for_state(page, "error")
    await expect(page.locator("#message")).to_contain_text("HTTP 404")
    await expect(page.locator("#message")).to_contain_text("reconnecting in")

    async def retried() -> bool:
        return bool((await player(page))["reconnects"] >= 2)

    await until(retried, "the page tries again", within=PLAY_TIMEOUT_S)
    await context.close()


# Without a browser: what the server answers.


async def test_the_page_is_public_and_fenced_in_by_its_policy(client: AsyncTestClient) -> None:
    r = await client.get("/gosd/player/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    policy = r.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert "media-src 'self' blob:" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert r.headers["referrer-policy"] == "no-referrer"
    assert "http://" not in r.text and "https://" not in r.text
    assert '<script src="vendor/mpegts.js"' in r.text


async def test_the_page_without_its_slash_redirects_with_its_query(
    client: AsyncTestClient,
) -> None:
    r = await client.get("/gosd/player?src=%2Fgosd%2Fx.flv%3Ftoken%3Dab", follow_redirects=False)
    assert r.status_code in (301, 302, 307, 308)
    assert r.headers["location"] == "player/?src=%2Fgosd%2Fx.flv%3Ftoken%3Dab"


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("player.js", "text/javascript"),
        ("player.css", "text/css"),
        ("vendor/mpegts.js", "text/javascript"),
    ],
)
async def test_the_pages_files_are_served(
    client: AsyncTestClient, name: str, media_type: str
) -> None:
    r = await client.get(f"/gosd/player/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == media_type
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "name",
    [
        "index.html",
        "vendor",
        "vendor/",
        "../app.py",
        "..%2F..%2Fapp.py",
        "%2e%2e/api/player_page.py",
        "player.js%00.png",
        "vendor/mpegts.js.map",
        "x" * 2000,
    ],
)
async def test_only_the_pages_files_are_served(client: AsyncTestClient, name: str) -> None:
    r = await client.get(f"/gosd/player/{name}")
    assert r.status_code == 404
    assert set(r.json()) == {"error_message", "code"}
