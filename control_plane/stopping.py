"""Stopping ``gosd serve`` and ``gosd demo`` when asked: SIGINT and SIGTERM alike.

A terminal sends SIGINT; systemd, ``kill`` and a CI timeout send SIGTERM. Both ask for
the same thing: stop what was started, remove what was made, exit 0. Python turns only
SIGINT into an exception (SIGTERM kills at once, skipping every ``finally``), and
uvicorn, after a graceful shutdown, raises the signal it caught again, so a SIGTERM
killed the demo after its server had stopped but before it stopped its children.

Here each phase says what a stop request does: while the event loop serves, the loop
receives the signals and calls a function (the server then shuts down normally); around
it, a signal raises ``StopRequested`` so the ``finally`` blocks run; while cleaning up,
further signals are ignored so the clean-up is not cut short.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(SystemExit):
    """A stop signal arrived outside the serving loop; exits 0 if nobody catches it.

    A ``SystemExit`` so that no ``except Exception`` on the way (nor asyncio, which
    re-raises only ``SystemExit`` and ``KeyboardInterrupt`` out of its callbacks)
    swallows it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(0)
        self.signum = signum


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise StopRequested(signum)


def _in_main_thread() -> bool:
    """Signal handlers can only be set from the main thread (elsewhere: leave them)."""
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def _handlers(handler: Callable[[int, FrameType | None], None] | int) -> Iterator[None]:
    if not _in_main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def stop_raises() -> contextlib.AbstractContextManager[None]:
    """Within the block, SIGINT and SIGTERM raise ``StopRequested``."""
    return _handlers(_raise_stop)


def stop_ignored() -> contextlib.AbstractContextManager[None]:
    """Within the block, SIGINT and SIGTERM do nothing (a clean-up under way)."""
    return _handlers(signal.SIG_IGN)


@contextlib.contextmanager
def stop_calls(on_stop: Callable[[], None]) -> Iterator[None]:
    """Within the block, run inside an event loop, SIGINT and SIGTERM call ``on_stop``
    on the loop (once per signal); the handlers found on entry are restored on exit."""
    if not _in_main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_stop)
    try:
        yield
    finally:
        for sig, old in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
