"""One player's view of a channel: a bounded queue of encoded tags, drained by its GET.

The publisher never waits for a viewer: ``offer`` answers at once. A viewer whose queue
is full drops tags until the next key frame and resumes there, so a slow player skips
ahead instead of slowing anyone (and its memory stays bounded). Sequence headers and
metadata are never dropped: without them nothing after them decodes.
"""

from __future__ import annotations

import asyncio
import collections
import enum


class Kind(enum.Enum):
    """What a tag is to the queue's drop policy."""

    CONFIG = "config"
    """Sequence header or metadata: always queued."""
    KEY = "key"
    """A video key frame: a skipping viewer resumes here."""
    OTHER = "other"
    """Anything else: dropped while skipping."""


class Viewer:
    """A queue of encoded tags (shared ``bytes``, never copied) for one GET."""

    def __init__(self, max_bytes: int, name: str = "") -> None:
        self.max_bytes = max_bytes
        """Bound of the queued bytes (config tags may pass it by their own size)."""
        self.name = name
        self._queue: collections.deque[bytes] = collections.deque()
        self.queued_bytes = 0
        self.skipping = False
        """True from a drop until the next key frame that fits."""
        self.bytes_out = 0
        """Bytes handed to the response so far."""
        self.tags_dropped = 0
        self.high_water_bytes = 0
        """The most bytes this queue ever held."""
        self.closed = False
        self.primed = False
        """True once the channel queued the header and caches: tags flow from then on."""
        self.end_reason = ""
        self._ready = asyncio.Event()

    def offer(self, chunk: bytes, kind: Kind) -> None:
        """Queue a tag, or drop it by the policy above; never waits."""
        if self.closed:
            return
        if kind is not Kind.CONFIG:
            fits = self.queued_bytes + len(chunk) <= self.max_bytes
            if self.skipping and (kind is not Kind.KEY or not fits):
                self.tags_dropped += 1
                return
            if not fits:
                self.skipping = True
                self.tags_dropped += 1
                return
            self.skipping = False
        self._queue.append(chunk)
        self.queued_bytes += len(chunk)
        self.high_water_bytes = max(self.high_water_bytes, self.queued_bytes)
        self._ready.set()

    def resync(self) -> None:
        """Wait for a key frame before passing frames on (a new publisher's frames do not
        follow from the old one's)."""
        self.skipping = True

    def close(self, reason: str = "") -> None:
        """End the viewer's response once its queue is drained."""
        if not self.closed:
            self.closed, self.end_reason = True, reason
            self._ready.set()

    async def next_batch(self) -> bytes | None:
        """Everything queued, as one write; None once closed and drained."""
        while not self._queue:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        batch = b"".join(self._queue) if len(self._queue) > 1 else self._queue[0]
        self._queue.clear()
        self.queued_bytes = 0
        self.bytes_out += len(batch)
        return batch
