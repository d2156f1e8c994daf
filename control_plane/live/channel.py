"""One live point's stream: its publisher, its GOP cache and its viewers.

Every tag is re-encoded once, at the channel's timestamp, and the same ``bytes`` goes
to every viewer, so fan-out costs a reference per viewer. Timestamps are the channel's,
not the publisher's: when a publisher is replaced (an agent reconnecting after a network
cut), the new one's timestamps are shifted to continue after the last tag viewers got,
so their players see one continuous, monotonic stream with the new sequence headers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from control_plane.live.viewer import Kind, Viewer
from shared import flv
from shared.flv import FlvHeader, FlvTag

ChannelKey = tuple[int, int]
"""``(node_id, point_id)``."""


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """The relay's bounds and delays (``GOSD_LIVE_*`` settings)."""

    gop_cache_bytes: int = 4 * 1024 * 1024
    """Most bytes of frames kept from the latest key frame on; a longer GOP is not
    cached (new viewers then wait for the next key frame)."""
    viewer_queue_bytes: int = 8 * 1024 * 1024
    """Most bytes queued for one viewer before it skips to the next key frame."""
    grace_s: float = 5.0
    """How long viewers stay after their publisher left, for it to come back."""
    linger_s: float = 10.0
    """How long after its last viewer left a stream is asked to stop."""
    wait_s: float = 10.0
    """How long a viewer waits for a publisher before it is answered 503."""
    max_tag_bytes: int = flv.DEFAULT_MAX_TAG_BYTES
    """Largest FLV tag a publisher may send."""


class Publication:
    """One publisher's connection to a channel (one PUT)."""

    def __init__(self, channel: Channel, task: asyncio.Task[object] | None) -> None:
        self.channel = channel
        self.task = task
        """The PUT's task: cancelled when a newer publisher replaces this one."""
        self.replaced = False
        self.ended = False
        self._offset: int | None = None
        """Channel timestamp minus this publisher's, fixed at its first tag."""

    def push(self, item: FlvHeader | FlvTag) -> None:
        """Pass on the header or a tag (checked by the parser) to the channel's viewers."""
        if self.replaced or self.ended:
            return
        if isinstance(item, FlvHeader):
            self.channel.on_header(item)
        else:
            if self._offset is None:
                self._offset = self.channel.offset_for(item.timestamp_ms)
            self.channel.on_tag(item, self._offset)

    def end(self) -> None:
        """The PUT ended (cleanly, refused or cut): the channel waits for another."""
        if not self.ended:
            self.ended = True
            self.channel.on_publisher_gone(self)


class Channel:
    def __init__(
        self,
        key: ChannelKey,
        config: RelayConfig,
        on_viewers: Callable[[Channel, int], None] = lambda channel, delta: None,
    ) -> None:
        self.key = key
        self.config = config
        self._on_viewers = on_viewers
        self.publisher: Publication | None = None
        self.viewers: set[Viewer] = set()
        self.flv_header: bytes | None = None
        """The header every viewer starts with (from the first publisher)."""
        self._has_video = True
        self.metadata: bytes | None = None
        self.video_config: bytes | None = None
        self.audio_config: bytes | None = None
        self.gop: list[tuple[bytes, Kind]] = []
        self.gop_bytes = 0
        self._gop_open = False
        """True while tags since the latest key frame fit in the cache."""
        self._last_out: dict[int, int] = {}
        """Per tag type, the last timestamp viewers were sent."""
        self._grace: asyncio.TimerHandle | None = None
        self._changed = asyncio.Event()
        self.start_error: str | None = None
        """Why the agent did not start the stream (set by the hub's demand hook)."""
        self.start_pending = False
        self.stop_sent = False
        self.bytes_in = 0
        self.tags_in = 0
        self.publishers = 0
        """Publishers this channel has had."""
        self.bytes_out_gone = 0
        self.tags_dropped_gone = 0
        """Counters of viewers that left."""

    # -- publishers

    def publish(self, task: asyncio.Task[object] | None) -> Publication:
        """A new publisher; one already there is replaced (its task cancelled)."""
        old = self.publisher
        if old is not None:
            old.replaced = True
            if old.task is not None and old.task is not task:
                old.task.cancel("replaced by a newer connection")
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self.publisher = Publication(self, task)
        self.publishers += 1
        self.start_error = None
        self.stop_sent = False
        return self.publisher

    def offset_for(self, first_ts: int) -> int:
        """The shift that puts a new publisher's first tag just after the last tag
        viewers got (no shift for the channel's first publisher); viewers then skip to
        the new publisher's first key frame, and the GOP cache starts again."""
        for viewer in self.viewers:
            viewer.resync()
        self.gop.clear()
        self.gop_bytes, self._gop_open = 0, False
        if not self._last_out:
            return 0
        return max(self._last_out.values()) + 1 - first_ts

    def on_header(self, header: FlvHeader) -> None:
        if self.flv_header is None:
            self._has_video = header.has_video
            self.flv_header = flv.encode_header(
                has_audio=header.has_audio, has_video=header.has_video
            )
        self.notify()

    def on_tag(self, tag: FlvTag, offset: int) -> None:
        ts = max(tag.timestamp_ms + offset, 0)
        if tag.type != flv.SCRIPT:
            ts = max(ts, self._last_out.get(tag.type, 0))
            self._last_out[tag.type] = ts
        encoded = flv.encode_tag(tag.type, ts, tag.data)
        self.bytes_in += len(encoded)
        self.tags_in += 1
        kind = self._remember(tag, encoded)
        for viewer in self.viewers:
            if viewer.primed:
                viewer.offer(encoded, kind)

    def _remember(self, tag: FlvTag, encoded: bytes) -> Kind:
        """Update the caches with the tag; answer its kind for the viewers' queues."""
        if tag.is_metadata:
            self.metadata = encoded
            return Kind.CONFIG
        if tag.is_sequence_header:
            if tag.type == flv.VIDEO:
                self.video_config = encoded
            else:
                self.audio_config = encoded
            return Kind.CONFIG
        key = tag.is_keyframe or (tag.type == flv.AUDIO and not self._has_video)
        if key:
            self.gop.clear()
            self.gop_bytes, self._gop_open = 0, True
        if self._gop_open:
            if self.gop_bytes + len(encoded) <= self.config.gop_cache_bytes:
                self.gop.append((encoded, Kind.KEY if key else Kind.OTHER))
                self.gop_bytes += len(encoded)
            else:  # too long a GOP: cache nothing until the next key frame
                self.gop.clear()
                self.gop_bytes, self._gop_open = 0, False
        return Kind.KEY if key else Kind.OTHER

    def on_publisher_gone(self, publication: Publication) -> None:
        if self.publisher is not publication:
            return
        self.publisher = None
        if self.viewers:
            self._grace = asyncio.get_running_loop().call_later(
                self.config.grace_s, self._end_viewers
            )
        self.notify()

    def _end_viewers(self) -> None:
        self._grace = None
        if self.publisher is None:
            for viewer in self.viewers:
                if viewer.primed:
                    viewer.close("the publisher went away")

    @property
    def live(self) -> bool:
        """A publisher is connected and its header arrived: a viewer can be primed."""
        return self.publisher is not None and self.flv_header is not None

    # -- viewers

    def add_viewer(self, name: str = "") -> Viewer:
        """A viewer counted at once (the on-demand start needs to know), primed with
        the header and caches once the channel is live (``prime``)."""
        viewer = Viewer(self.config.viewer_queue_bytes, name)
        self.viewers.add(viewer)
        self._on_viewers(self, +1)
        return viewer

    def prime(self, viewer: Viewer) -> None:
        """Queue what a new viewer starts with: header, metadata, sequence headers and
        the frames from the latest key frame on (or, without them, the next key frame)."""
        assert self.flv_header is not None
        viewer.primed = True
        for config in (self.flv_header, self.metadata, self.video_config, self.audio_config):
            if config is not None:
                viewer.offer(config, Kind.CONFIG)
        if not self.gop:
            viewer.resync()
        for encoded, kind in self.gop:
            viewer.offer(encoded, kind)

    def remove_viewer(self, viewer: Viewer) -> None:
        if viewer in self.viewers:
            self.viewers.discard(viewer)
            viewer.close()
            self.bytes_out_gone += viewer.bytes_out
            self.tags_dropped_gone += viewer.tags_dropped
            self._on_viewers(self, -1)

    # -- waiting

    def notify(self) -> None:
        """Wake whoever waits for a change (a publisher, a failed start)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        await self._changed.wait()

    def stats(self) -> dict[str, object]:
        return {
            "node_id": self.key[0],
            "point_id": self.key[1],
            "publishing": self.publisher is not None,
            "publishers": self.publishers,
            "bytes_in": self.bytes_in,
            "tags_in": self.tags_in,
            "gop_cache_bytes": self.gop_bytes,
            "viewers": [
                {
                    "bytes_out": v.bytes_out,
                    "queued_bytes": v.queued_bytes,
                    "tags_dropped": v.tags_dropped,
                }
                for v in self.viewers
            ],
            "bytes_out": self.bytes_out_gone + sum(v.bytes_out for v in self.viewers),
        }
