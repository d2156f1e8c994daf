"""The suite's two ways of waiting: for a condition, and for a process to end.

A condition is polled until it holds or its deadline passes; the poll interval is not
a sleep standing in for an event (the caller fails with ``what`` at the deadline).
Every test and fixture waits through these, so there is one interval to tune.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.02
"""How often a condition is checked."""


async def until(probe: Callable[[], Awaitable[T]], what: str, within: float = 10) -> T:
    """Poll ``probe`` until it answers something truthy; fail saying ``what`` if not."""
    deadline = time.monotonic() + within
    while not (value := await probe()):
        assert time.monotonic() < deadline, f"timed out after {within} s waiting until {what}"
        await asyncio.sleep(POLL_S)
    return value


def until_sync(probe: Callable[[], T], what: str, within: float = 10) -> T:
    """``until`` for code without an event loop (subprocess helpers, sync tests)."""
    deadline = time.monotonic() + within
    while not (value := probe()):
        assert time.monotonic() < deadline, f"timed out after {within} s waiting until {what}"
        time.sleep(POLL_S)
    return value


def stop_process(
    process: subprocess.Popen[bytes] | subprocess.Popen[str],
    sig: int = signal.SIGTERM,
    within: float = 15,
) -> int:
    """Signal a child by its PID and reap it; SIGKILL (after a SIGTERM, if ``sig`` was
    another signal) when it outlives ``within``."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(within)
        except subprocess.TimeoutExpired:
            if sig != signal.SIGTERM:  # a last chance to stop cleanly
                process.send_signal(signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(1)
            process.kill()
            process.wait()
    return process.returncode
