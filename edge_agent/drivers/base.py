"""The Driver protocol: what the agent needs from whatever it drives (DESIGN §3).

The agent's machinery (link, RPC, executor, telemetry) knows vehicles and depots only
through this interface, so a drone over MAVSDK, a depot and the ``fake`` driver are
interchangeable, and firmware differences stay inside their driver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import msgspec

from shared.errors import JobFailure, RpcErrorCode
from shared.messages import JobSpec, Progress


class DriverError(Exception):
    """A typed failure of a driver.

    ``code`` is an ``RpcErrorCode`` when the failure answers an RPC (``UNSUPPORTED``,
    ``NOT_ARMABLE``...), or a ``JobFailure`` when it ends a job (the event's reason).
    """

    def __init__(self, code: RpcErrorCode | JobFailure, message: str = "") -> None:
        super().__init__(message or (code.message if isinstance(code, RpcErrorCode) else code))
        self.code = code
        self.message = message


class DriverConfigError(ValueError):
    """Unknown driver kind or settings a driver cannot use (reported like a config error)."""


class TelemetrySample(NamedTuple):
    """One telemetry value as the driver produced it."""

    name: str
    """A ``msg/*`` name (``position``, ``battery``, ``drone_status``...)."""
    value: msgspec.Struct | Mapping[str, Any]
    """A ``shared.messages`` telemetry struct, or any JSON object for other names."""
    urgent: bool = False
    """A change that must go out now, not at the next rate-limited round (a dock's cover
    starting to move): the publisher wakes for it."""


ProgressReporter = Callable[[Progress], Awaitable[None]]
"""How ``run`` reports progress; awaiting it records a durable ``running`` event."""


class Driver(Protocol):
    """A vehicle or depot behind the agent.

    Methods may raise ``DriverError``; anything else is treated as a driver bug (the job
    fails with ``driver_error``, the RPC answers ``INTERNAL_ERROR``).
    """

    kind: str
    """The registry name of the driver (``fake``, ...)."""

    @property
    def actions(self) -> frozenset[str]:
        """Names the ``action`` RPC accepts."""
        ...

    async def start(self) -> None:
        """Connect to the vehicle; called once before anything else."""
        ...

    async def close(self) -> None:
        """Release the vehicle; called once at the end, even after a failure."""
        ...

    def describe(self) -> dict[str, Any]:
        """The ``status`` dict of the birth message: at least ``type`` (``drone``/``depot``)."""
        ...

    async def prepare(self, job: JobSpec, files: Mapping[str, Path]) -> None:
        """Validate the job and its downloaded, verified files; upload the mission."""
        ...

    async def run(self, job: JobSpec, report_progress: ProgressReporter) -> None:
        """Execute the prepared job to its end. Cancellation aborts it promptly."""
        ...

    async def resume(self, job: JobSpec, files: Mapping[str, Path], last_item: int | None) -> bool:
        """After an agent restart: re-attach to ``job`` if the vehicle is still on it.

        True means ``run`` continues the job from where the vehicle is (without a new
        ``prepare``, and without starting the mission again); False means the job cannot
        be picked up (the agent then fails it ``agent_restarted``). ``last_item`` is the
        last mission item the job's events reported reached (None: none): ``run``
        reports the items reached after it, each once, so the history misses none.
        """
        ...

    async def stop(self, action: str | None) -> None:
        """After a cancelled job: put the vehicle in ``action`` (None: the driver's default)."""
        ...

    async def emergency_stop(self) -> None:
        """Put the vehicle in its safe state now, whatever it is doing."""
        ...

    async def action(self, name: str, params: Mapping[str, Any]) -> Any:
        """A manual command; ``DriverError(UNSUPPORTED)`` for a name not in ``actions``."""
        ...

    def telemetry(self) -> AsyncIterator[TelemetrySample]:
        """Telemetry samples as they come, for as long as the driver runs."""
        ...
