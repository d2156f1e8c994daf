"""The processes ``gosd demo`` starts (simulator, agents), stopped for sure.

A stop terminates them all at once (SIGTERM: each agent publishes its clean
``offline``), waits for them together, and kills whatever outlives the grace period.
On Linux each child also asks the kernel for SIGTERM when its parent dies
(``PR_SET_PDEATHSIG``), so a demo killed with SIGKILL, which runs no clean-up of its
own, leaves no simulator or agent behind. Elsewhere that safety net is absent.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

STOP_GRACE_S = 10.0
"""How long the children together get to stop after SIGTERM before SIGKILL."""

_PR_SET_PDEATHSIG = 1
"""From <linux/prctl.h>."""


def _death_signal_setter() -> Callable[[], None] | None:
    """A ``preexec_fn`` asking for SIGTERM when the parent dies; None off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)  # loaded here: not between fork and exec
    prctl = libc.prctl
    parent = os.getpid()

    def die_with_parent() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request: too late
            os._exit(1)

    return die_with_parent


class ChildProcesses:
    def __init__(self) -> None:
        self._children: list[subprocess.Popen[bytes]] = []
        self._die_with_parent = _death_signal_setter()

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self._children]

    def start(self, args: Sequence[str], **popen: Any) -> subprocess.Popen[bytes]:
        """Start a child that dies with this process where the platform allows."""
        child = subprocess.Popen(  # noqa: S603 - callers pass our own interpreter and arguments
            args, preexec_fn=self._die_with_parent, **popen
        )
        self._children.append(child)
        return child

    def terminate(self) -> None:
        """Send SIGTERM to every child still running; returns at once (repeatable)."""
        for child in self._children:
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.terminate()

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """Terminate every child, wait for them together, SIGKILL what remains; reaps all."""
        self.terminate()
        deadline = time.monotonic() + grace_s
        for child in self._children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
