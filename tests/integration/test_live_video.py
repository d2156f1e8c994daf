"""Live video through the relay: a node publishes FLV made by PyAV, people watch it.

The control plane runs under uvicorn on a real port of 127.0.0.1 (in this process, so
the test can read the relay's counters); publishers are httpx chunked PUTs of FFmpeg's
FLV muxer output, and what viewers receive is decoded by PyAV's H.264 decoder.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import random
import time
from collections.abc import AsyncIterator

import av
import httpx
import pytest

from control_plane.settings import Settings
from shared import flv
from shared.flv import FlvParser, FlvTag
from tests.conftest import ManualClock
from tests.flv_source import FlvEncoder
from tests.live_relay import V2, Live, Publisher, live_channel, serve_live
from tests.support import until

pytestmark = pytest.mark.integration


@pytest.fixture
async def live(settings: Settings, clock: ManualClock) -> AsyncIterator[Live]:
    async with serve_live(settings, clock) as served:
        yield served


async def _read(chunks: AsyncIterator[bytes], parser: FlvParser, until_tags: int) -> list[FlvTag]:
    """Tags of a viewer's response until ``until_tags`` more arrived (the same
    ``chunks`` iterator can be read on afterwards)."""
    tags: list[FlvTag] = []
    async for chunk in chunks:
        tags += [t for t in parser.feed(chunk) if isinstance(t, FlvTag)]
        if len(tags) >= until_tags:
            break
    return tags


def _decode(stream: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(stream), format="flv") as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        return list(container.decode(video))


async def test_a_viewer_gets_h264_of_the_published_size_and_rate(live: Live) -> None:
    async with Publisher(live, FlvEncoder(320, 240, rate=15, gop=15), 60).running() as pub:
        await until(lambda: live_channel(live), "the stream is live")
        async with live.http.stream("GET", live.path(), headers=live.user) as r:
            assert r.status_code == 200
            assert r.headers["content-type"] == "video/x-flv"
            assert r.headers["cache-control"] == "no-store"
            received = bytearray()
            parser = FlvParser()
            video: list[FlvTag] = []
            async for chunk in r.aiter_raw():
                received += chunk
                video += [t for t in parser.feed(chunk) if isinstance(t, FlvTag) and t.is_video]
                if sum(not t.is_sequence_header for t in video) >= 25:
                    break
        frames = _decode(bytes(received))
        assert len(frames) >= 20
        assert {(f.width, f.height) for f in frames} == {(320, 240)}
        times = [t.timestamp_ms for t in video if not t.is_sequence_header]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert sorted(gaps)[len(gaps) // 2] in range(60, 75)  # 15 frames/s
        assert (await pub.response()).status_code == 204


async def test_late_joiners_start_at_a_key_frame_and_decode_at_once(live: Live) -> None:
    rng = random.Random(7)  # noqa: S311 - reproducible join times
    async with Publisher(live, FlvEncoder(160, 120, rate=15, gop=10), 120).running():
        await until(lambda: live_channel(live), "the stream is live")
        for _ in range(12):
            await asyncio.sleep(rng.uniform(0, 0.4))  # a random moment to join, not a wait
            async with live.http.stream("GET", live.path(), headers=live.user) as r:
                received = bytearray()
                parser = FlvParser()
                frames: list[FlvTag] = []
                async for chunk in r.aiter_raw():
                    received += chunk
                    tags = [t for t in parser.feed(chunk) if isinstance(t, FlvTag)]
                    frames += [t for t in tags if t.is_frame]
                    if frames:
                        break
            assert frames[0].is_keyframe
            assert len(_decode(bytes(received))) >= 1


async def test_a_stalled_viewer_neither_delays_others_nor_grows(live: Live) -> None:
    settings_bound = live.hub.config.viewer_queue_bytes
    async with Publisher(
        live, FlvEncoder(320, 240, rate=30, gop=30, bitrate=2_000_000), 150
    ).running():
        await until(lambda: live_channel(live), "the stream is live")
        stalled_client = httpx.AsyncClient(
            base_url=live.base, timeout=30, limits=httpx.Limits(max_connections=1)
        )
        async with (
            stalled_client,
            stalled_client.stream("GET", live.path(), headers=live.user) as stalled,
        ):
            assert stalled.status_code == 200  # and then nothing is read from it
            async with live.http.stream("GET", live.path(), headers=live.user) as r:
                parser = FlvParser()
                lags: list[float] = []
                start = time.monotonic()
                first_ts: int | None = None
                async for chunk in r.aiter_raw():
                    for t in parser.feed(chunk):
                        if isinstance(t, FlvTag) and t.is_frame:
                            first_ts = t.timestamp_ms if first_ts is None else first_ts
                            lags.append(
                                (time.monotonic() - start) - (t.timestamp_ms - first_ts) / 1000
                            )
                    if parser.tags > 120:
                        break
            # The reader kept up: arrival times follow the stream's own clock.
            assert max(lags) - min(lags) < 0.5
            channel = live.hub.channels[(live.node_id, live.point_id)]
            queues = [v.high_water_bytes for v in channel.viewers]
            assert max(queues) <= settings_bound + 64 * 1024


async def test_malformed_ingest_is_cut_with_400_naming_the_fault(live: Live) -> None:
    good = FlvEncoder(160, 120)
    head = good.next_frame() + good.next_frame()
    cases = {
        "random bytes": (b"\x8a\x11" + bytes(range(256)) * 4, "not an FLV stream"),
        "truncated": (head[:-10], "ended inside a tag"),
        "wrong header": (b"FLV\x02\x01\x00\x00\x00\x09\x00\x00\x00\x00", "version 2"),
        "huge tag": (flv.encode_header() + b"\x09\xff\xff\xf0" + bytes(7), "over the limit"),
        "frame first": (
            flv.encode_header() + flv.encode_tag(9, 0, flv.avc_video_data(1, 1, b"")),
            "before the sequence header",
        ),
    }
    for name, (body, why) in cases.items():
        r = await live.http.put(live.path(), headers=live.node, content=body)
        assert r.status_code == 400, name
        assert r.json()["code"] == "invalid_stream" and why in r.json()["error_message"], name
        assert "at byte" in r.json()["error_message"]
    # Nothing else is affected: a good stream is accepted after them.
    r = await live.http.put(live.path(), headers=live.node, content=head + good.close())
    assert r.status_code == 204


async def test_who_may_publish_and_watch(live: Live) -> None:
    body = flv.encode_header()
    assert (await live.http.get(live.path())).status_code == 401
    assert (await live.http.put(live.path(), content=body)).status_code == 401
    r = await live.http.get(live.path(), headers=live.other)
    assert r.status_code == 404
    r = await live.http.put(live.path(), headers=live.user, content=body)
    assert r.status_code == 403 and "person" in r.json()["error_message"]
    r = await live.http.put(live.path(), headers=live.second_node, content=body)
    assert r.status_code == 403 and "its own points" in r.json()["error_message"]
    r = await live.http.put(live.path(live.map_point_id), headers=live.node, content=body)
    assert r.status_code == 409 and "map point" in r.json()["error_message"]
    r = await live.http.put(live.path(999_999), headers=live.node, content=body)
    assert r.status_code == 404
    r = await live.http.get(live.path(), headers=live.node)
    assert r.status_code == 403


async def test_a_viewer_of_a_node_that_does_not_stream_gets_503_saying_why(live: Live) -> None:
    r = await live.http.get(live.path(), headers=live.user)
    assert r.status_code == 503
    assert f"node {live.node_id}" in r.json()["error_message"]


async def test_a_second_publisher_replaces_the_first_and_viewers_stay(live: Live) -> None:
    first = Publisher(live, FlvEncoder(160, 120, rate=15, gop=5), 400)
    async with first.running():
        await until(lambda: live_channel(live), "the first stream is live")
        async with live.http.stream("GET", live.path(), headers=live.user) as r:
            parser, chunks = FlvParser(), r.aiter_raw()
            before = await _read(chunks, parser, 10)
            second = Publisher(live, FlvEncoder(160, 120, rate=15, gop=5), 40)
            async with second.running():
                replaced = await first.response()
                assert replaced.status_code == 409
                assert "replaced by a newer connection" in replaced.json()["error_message"]
                after = await _read(chunks, parser, 30)
                assert (await second.response()).status_code == 204
    times = [t.timestamp_ms for t in before + after if t.is_video]
    assert times == sorted(times), "viewers' timestamps stay monotonic across publishers"
    assert sum(t.is_sequence_header for t in after) >= 1, "the new sequence header is re-sent"


async def test_viewer_tokens(live: Live) -> None:
    async with Publisher(live, FlvEncoder(160, 120), 200).running():
        await until(lambda: live_channel(live), "the stream is live")
        r = await live.http.post(
            f"{V2}/nodes/{live.node_id}/points/{live.point_id}/live-token", headers=live.user
        )
        assert r.status_code == 200, r.text
        minted = r.json()
        assert minted["url"] == live.path() + "?token=" + minted["token"]
        async with live.http.stream("GET", minted["url"]) as watch:
            assert watch.status_code == 200
            tags = await _read(watch.aiter_raw(), FlvParser(), 3)
            assert tags[0].is_metadata
        token = minted["token"]
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        r = await live.http.get(live.path(), params={"token": tampered})
        assert r.status_code == 401 and "signature" in r.json()["error_message"]
        r = await live.http.get(live.path(live.map_point_id), params={"token": token})
        assert r.status_code == 401 and "another point" in r.json()["error_message"]
        live.clock.advance(61)
        r = await live.http.get(live.path(), params={"token": token})
        assert r.status_code == 401 and "expired" in r.json()["error_message"]
        r = await live.http.post(
            f"{V2}/nodes/{live.node_id}/points/{live.point_id}/live-token",
            headers=live.other,
        )
        assert r.status_code == 404


async def test_v2_points_carry_their_viewer_url_and_v1_stays_as_it_was(live: Live) -> None:
    nodes = (await live.http.get(f"{V2}/nodes/", headers=live.user)).json()
    points = {p["id"]: p for n in nodes for p in n["points"]}
    assert points[live.point_id]["url"] == live.path()
    assert "url" not in points[live.map_point_id]
    v1 = (await live.http.get("/gosd/api/v1/nodes/", headers=live.user)).json()
    assert all("url" not in p for n in v1 for p in n["points"])
