"""One point's live video: the source's FLV pushed to the control plane's ingest.

``LiveStream.run()`` works until cancelled. While the stream is wanted (``always``, or
between ``start()`` and ``stop()``) it keeps a capture running (``CaptureThread``) and
one chunked ``PUT {control_plane}/api/v2/nodes/{node}/points/{point}/live.flv`` open
with the node's token (``put.py``: the answer is read while the body is sent), whose
body is the capture's preamble then its FLV tags from a keyframe on. Tags flow through a
bounded queue: a full queue drops whole frames up to the next keyframe
(``frames_dropped``); the capture is never blocked by the network.

What an answer of the ingest does:

- 2xx (the relay ended the stream cleanly): connect again at once.
- 401: a new token for the next attempt (a second 401 in a row backs off as any error).
- 403, 404 (the point is not this node's): ``failed``; a new ``start()`` tries again.
- 409 (another publisher of the point replaced this one): ``retrying`` after the longest
  back-off, so two publishers configured for one point do not fight for it many times a
  second; the stream stays reported with the reason.
- anything else, and network errors: ``retrying`` with jittered back-off (0.5 s doubling
  to 30 s), reset once frames flow again.

A dead source is not retried silently for ever: one that is missing (no such device or
file, no video, no such encoder) fails at once; one that cannot be opened, or breaks
before its first frame, ``DEAD_AFTER`` times in a row fails. ``failed`` is reported with
the error and stays until the next ``start()`` (or agent restart).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable

import httpx

from edge_agent.link import Backoff
from edge_agent.livestream.capture import Capture, SourceError, masked
from edge_agent.livestream.put import PutError, chunked_put
from edge_agent.node_token import NodeToken, TokenError
from shared.agent_config import LivestreamSection
from shared.messages import LivestreamHealth

log = logging.getLogger(__name__)

QUEUE_TAGS = 90
"""Frames that may wait for the network (3 s at 30 fps); beyond, frames are dropped."""
DEAD_AFTER = 3
"""Failures in a row, to open a source or before its first frame, that make it dead."""
RATE_WINDOW_S = 3.0
"""fps and bitrate are measured over this many seconds."""
STOP_GRACE_S = 2.0
"""How long a stopped stream waits for the ingest's answer after ending its body."""


class TagQueue:
    """Bounded FLV tags for one connection; drops whole frames up to the next keyframe."""

    def __init__(self, limit: int) -> None:
        self._tags: collections.deque[bytes | None] = collections.deque()
        self._limit = limit
        self._ready = asyncio.Event()
        self._dropping = False
        self._started = False
        self.dropped = 0

    def put(self, data: bytes, keyframe: bool) -> None:
        if not self._started:
            if not keyframe:
                return  # a connection starts at a keyframe (not a drop: nothing was lost)
            self._started = True
        if self._dropping and not keyframe:
            self.dropped += 1
            return
        if len(self._tags) >= self._limit:
            self._dropping = True
            self.dropped += 1
            return
        self._dropping = False
        self._tags.append(data)
        self._ready.set()

    def end(self) -> None:
        self._tags.append(None)
        self._ready.set()

    async def get(self) -> bytes | None:
        while not self._tags:
            self._ready.clear()
            await self._ready.wait()
        return self._tags.popleft()


class _Stopping(Exception):
    """The stream is no longer wanted: leave the session."""


class LiveStream:
    """The video of one point (one ``[[livestream]]`` table)."""

    def __init__(
        self,
        settings: LivestreamSection,
        *,
        node_id: int,
        control_plane_url: str,
        token: NodeToken,
        on_change: Callable[[], None],
        transport: httpx.AsyncBaseTransport | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.settings = settings
        self.url = (
            f"{control_plane_url.rstrip('/')}/api/v2/nodes/{node_id}/points/"
            f"{settings.point_id}/live.flv"
        )
        self._token = token
        self._on_change = on_change
        self._transport = transport
        self._backoff = backoff or Backoff(min_s=0.5, max_s=30.0)
        self._wanted = asyncio.Event()
        self._unwanted = asyncio.Event()
        self._restart = asyncio.Event()
        """Set by ``start()``: a failed stream tries again."""
        if settings.mode == "always":
            self._wanted.set()
        else:
            self._unwanted.set()
        self.state = "off"
        self.codec = ""
        self.passthrough = False
        self.frames_dropped = 0
        self.source_errors = 0
        self.last_error = ""
        self.frames_sent = 0
        """Frames that went into a PUT body (since the agent started)."""
        self.connections = 0
        """PUTs opened (since the agent started)."""
        self.first_frame_at: float | None = None
        """Monotonic time the current session's first frame went out (for the start-up
        figure); None until then."""
        self._sent: collections.deque[tuple[float, int]] = collections.deque()
        self._queue: TagQueue | None = None

    # ----------------------------------------------------------- control and health

    @property
    def requested(self) -> bool:
        return self._wanted.is_set()

    def start(self) -> None:
        """Wanted from now on (viewers came): starts, or restarts a failed stream."""
        self._unwanted.clear()
        self._wanted.set()
        self._restart.set()
        self._changed()

    def stop(self) -> None:
        """Not wanted any more (the last viewer left): the PUT ends cleanly."""
        self._wanted.clear()
        self._unwanted.set()
        if self._queue is not None:
            self._queue.end()
        self._changed()

    def health(self) -> LivestreamHealth:
        now = time.monotonic()
        while self._sent and self._sent[0][0] < now - RATE_WINDOW_S:
            self._sent.popleft()
        frames = len(self._sent)
        size = sum(n for _, n in self._sent)
        live = self.state == "live"
        return LivestreamHealth(
            point_id=self.settings.point_id,
            state=self.state,
            mode=self.settings.mode,
            source=masked(self.settings.source),
            codec=self.codec,
            passthrough=self.passthrough,
            fps=round(frames / RATE_WINDOW_S, 1) if live else 0.0,
            bitrate_kbps=round(size * 8 / 1000 / RATE_WINDOW_S, 1) if live else 0.0,
            frames_dropped=self.frames_dropped + (self._queue.dropped if self._queue else 0),
            source_errors=self.source_errors,
            last_error=self.last_error,
            requested=self.requested,
        )

    def _set_state(self, state: str, error: str | None = None) -> None:
        if error is not None:
            self.last_error = error[:300]
        if state != self.state or error is not None:
            self.state = state
            log.info(
                "livestream point %d: %s%s",
                self.settings.point_id,
                state,
                f" ({self.last_error})" if error else "",
            )
            self._changed()

    def _changed(self) -> None:
        self._on_change()

    # ----------------------------------------------------------------- running

    async def run(self) -> None:
        """Stream whenever wanted, until cancelled."""
        while True:
            await self._wanted.wait()
            self._restart.clear()
            async with asyncio.TaskGroup() as tg:
                session = tg.create_task(
                    self._guarded_session(), name=f"livestream-{self.settings.point_id}"
                )
                unwanted = tg.create_task(self._unwanted.wait())
                await asyncio.wait({session, unwanted}, return_when=asyncio.FIRST_COMPLETED)
                if not session.done() and self._queue is not None:
                    # Stopped while a PUT is open: stop() ended its body; give the ingest
                    # a moment to answer, then cut.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(STOP_GRACE_S):
                            await asyncio.shield(session)
                session.cancel()
                unwanted.cancel()
            if self.state != "failed":
                self._set_state("off")
            else:  # failed: stay so until a new start (or a stop)
                async with asyncio.TaskGroup() as tg:
                    waits = {
                        tg.create_task(self._restart.wait()),
                        tg.create_task(self._unwanted.wait()),
                    }
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                    for task in waits:
                        task.cancel()
                if not self._wanted.is_set():
                    self._set_state("off")

    async def _guarded_session(self) -> None:
        """A stream's boundary: a bug in one stream fails that stream, not the agent."""
        try:
            await self._session()
        except Exception as exc:
            log.exception("livestream point %d failed", self.settings.point_id)
            self._set_state("failed", f"internal error: {type(exc).__name__}: {exc}")

    async def _session(self) -> None:
        """Capture and push until the source is dead or the point refused (then return)."""
        failures = 0
        while self._wanted.is_set():
            self._set_state("starting")
            self.first_frame_at = None
            capture = CaptureThread(self.settings)
            try:
                await capture.opened()
            except SourceError as exc:
                self.source_errors += 1
                failures += 1
                if exc.dead or failures >= DEAD_AFTER:
                    self._set_state("failed", f"{exc} (gave up)" if not exc.dead else str(exc))
                    return
                self._set_state("retrying", str(exc))
                await asyncio.sleep(self._backoff.next_delay())
                continue
            self.codec, self.passthrough = capture.codec, capture.passthrough
            try:
                outcome = await self._push_while_capturing(capture)
            finally:
                capture.stop()
            if outcome == "refused":
                return
            if outcome == "source":
                self.source_errors += 1
                failures = 0 if self.first_frame_at is not None else failures + 1
                if failures >= DEAD_AFTER:
                    self._set_state("failed", f"{self.last_error} (gave up)")
                    return
                self._set_state("retrying")
                await asyncio.sleep(self._backoff.next_delay())
            else:
                failures = 0

    async def _push_while_capturing(self, capture: CaptureThread) -> str:
        """Push until the capture ends (``"source"``) or a refusal (``"refused"``) or the
        stream is stopped (``"stopped"``)."""
        async with asyncio.TaskGroup() as tg:
            pusher = tg.create_task(self._push_loop(capture))
            ended = tg.create_task(capture.ended())
            await asyncio.wait({pusher, ended}, return_when=asyncio.FIRST_COMPLETED)
            if ended.done():
                pusher.cancel()
                error = ended.result()
                self._set_state("retrying", str(error) if error else "the source ended")
                outcome = "source"
            else:
                ended.cancel()
                outcome = pusher.result()
        return outcome

    async def _push_loop(self, capture: CaptureThread) -> str:
        timeout = httpx.Timeout(10.0, read=10.0)
        refresh = False
        refused_401 = 0
        async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as http:
            while True:
                if not self._wanted.is_set():
                    return "stopped"
                try:
                    token = await self._token.get(http, refresh=refresh)
                    refresh = False
                    status = await self._put(token, capture)
                except TokenError as exc:
                    status, detail = None, str(exc)
                except PutError as exc:
                    status, detail = None, f"ingest: {exc}"
                if not self._wanted.is_set():
                    return "stopped"
                if status is not None:
                    detail = f"ingest answered HTTP {status}"
                delay: float | None = self._backoff.next_delay()
                if status is not None and 200 <= status < 300:
                    delay = None  # the relay ended the stream cleanly: connect again now
                elif status == 401:
                    refused_401 += 1
                    refresh = True
                    if refused_401 == 1:
                        delay = None
                elif status in (403, 404):
                    self._set_state("failed", f"{detail}: point {self.settings.point_id} "
                                    "is not this node's")  # fmt: skip
                    return "refused"
                elif status == 409:
                    detail = f"{detail}: replaced by another publisher of the point"
                    delay = self._backoff.max_s
                if status != 401:
                    refused_401 = 0
                if delay is None:
                    self._set_state("starting", detail)
                    continue
                self._set_state("retrying", detail)
                await asyncio.sleep(delay)

    async def _put(self, token: str, capture: CaptureThread) -> int:
        queue = TagQueue(QUEUE_TAGS)
        self._queue = queue
        self.connections += 1

        async def body() -> AsyncIterator[bytes]:
            yield capture.preamble
            while (tag := await queue.get()) is not None:
                yield tag
                now = time.monotonic()
                self._sent.append((now, len(tag)))
                self.frames_sent += 1
                if self.first_frame_at is None:
                    self.first_frame_at = now
                if self.state != "live":
                    self._backoff.reset()
                    self._set_state("live")

        capture.attach(queue)
        try:
            return await chunked_put(
                self.url,
                {"Authorization": f"Bearer {token}", "Content-Type": "video/x-flv"},
                body(),
            )
        finally:
            capture.attach(None)
            self.frames_dropped += queue.dropped
            self._queue = None


class CaptureThread:
    """A ``Capture`` on its own thread, reporting to the event loop that made it."""

    def __init__(self, settings: LivestreamSection) -> None:
        self._loop = asyncio.get_running_loop()
        self._opened: asyncio.Future[None] = self._loop.create_future()
        self._ended: asyncio.Future[None] = self._loop.create_future()
        self._stop = threading.Event()
        self._queue: TagQueue | None = None
        self._gop: list[tuple[bytes, bool]] = []
        """The tags since the latest keyframe: a connection starts with them, so it need
        not wait for the source's next keyframe (the first one often arrives before the
        first PUT is open)."""
        self._capture = Capture(settings, self._on_tag)
        self._thread = threading.Thread(target=self._work, name="livestream-capture", daemon=True)
        self._thread.start()

    @property
    def codec(self) -> str:
        return self._capture.codec

    @property
    def passthrough(self) -> bool:
        return self._capture.passthrough

    @property
    def preamble(self) -> bytes:
        return self._capture.preamble

    async def opened(self) -> None:
        """Returns once the source is open; ``SourceError`` if it cannot be."""
        try:
            await asyncio.shield(self._opened)
        except BaseException:
            self.stop()
            raise

    async def ended(self) -> BaseException | None:
        """When the capture stops by itself: why (None: it ended without an error). The
        error is returned, not raised, so a task group waiting on it is not aborted."""
        try:
            await asyncio.shield(self._ended)
        except SourceError as exc:
            return exc
        return None

    def attach(self, queue: TagQueue | None) -> None:
        """Where tags go from now on (None: nowhere)."""
        self._queue = queue
        if queue is not None:
            if self._gop:
                for data, keyframe in self._gop:
                    queue.put(data, keyframe)
            else:
                self._capture.request_keyframe()

    def stop(self) -> None:
        """Ask the thread to stop (it does within a read timeout); it closes the source."""
        self._stop.set()

    def _on_tag(self, data: bytes, keyframe: bool) -> None:
        try:
            self._loop.call_soon_threadsafe(self._deliver, data, keyframe)
        except RuntimeError:  # the loop is closed (the agent is exiting): stop reading
            self._stop.set()

    def _deliver(self, data: bytes, keyframe: bool) -> None:
        if keyframe:
            self._gop.clear()
        if self._gop or keyframe:
            if len(self._gop) < QUEUE_TAGS:
                self._gop.append((data, keyframe))
            else:
                self._gop.clear()  # a GOP longer than a queue: start at the next keyframe
        if self._queue is not None:
            self._queue.put(data, keyframe)

    def _settle(self, future: asyncio.Future[None], error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)

    def _report(self, future: asyncio.Future[None], error: BaseException | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
            self._loop.call_soon_threadsafe(self._settle, future, error)

    def _work(self) -> None:
        try:
            self._capture.open()
        except SourceError as exc:
            self._report(self._opened, exc)
            return
        except Exception as exc:  # the thread's boundary: report, never die silently
            log.exception("opening the source failed")
            self._report(self._opened, SourceError(str(exc)))
            return
        self._report(self._opened, None)
        error: BaseException | None = None
        try:
            self._capture.run(self._stop)
        except SourceError as exc:
            error = exc
        except Exception as exc:
            log.exception("capture failed")
            error = SourceError(str(exc))
        finally:
            self._capture.close()
        self._report(self._ended, error)
