"""The bounded queue between a stream's capture and its PUT: a slow network costs whole
frames up to the next keyframe (counted), never a blocked capture or a broken picture."""

from __future__ import annotations

from edge_agent.livestream.stream import TagQueue


async def drain(queue: TagQueue, n: int) -> list[bytes | None]:
    return [await queue.get() for _ in range(n)]


async def test_a_connection_starts_at_a_keyframe() -> None:
    queue = TagQueue(10)
    queue.put(b"p1", keyframe=False)
    queue.put(b"K1", keyframe=True)
    queue.put(b"p2", keyframe=False)
    queue.end()
    assert await drain(queue, 3) == [b"K1", b"p2", None]
    assert queue.dropped == 0, "frames before the first keyframe were never owed"


async def test_a_full_queue_drops_up_to_the_next_keyframe() -> None:
    queue = TagQueue(3)
    for tag in (b"K1", b"p1", b"p2"):
        queue.put(tag, keyframe=tag.startswith(b"K"))
    queue.put(b"p3", keyframe=False)  # full: dropped, and so is the rest of this GOP...
    assert await drain(queue, 3) == [b"K1", b"p1", b"p2"]
    queue.put(b"p4", keyframe=False)  # ...even once there is room again (p4 needs p3)
    queue.put(b"K2", keyframe=True)  # the next keyframe resumes the stream
    queue.put(b"p5", keyframe=False)
    queue.end()
    assert await drain(queue, 3) == [b"K2", b"p5", None]
    assert queue.dropped == 2
