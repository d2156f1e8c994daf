"""The ``fake`` driver: runs jobs step by step with no vehicle.

It exists so the whole agent (link, RPC, outbox, executor, telemetry) runs and is tested
without hardware or a simulator. Settings (``[driver.fake]``):

- ``steps`` (int, default 5): progress steps of a job;
- ``step_s`` (float, default 0.05): seconds per step;
- ``fail_at_step`` (int, optional): the job fails with ``driver_error`` at this step
  (1-based), for tests;
- ``telemetry_period_s`` (float, default 0.2): how often telemetry samples are produced.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import msgspec

from edge_agent.drivers.base import (
    DriverConfigError,
    DriverError,
    ProgressReporter,
    TelemetrySample,
)
from shared.errors import JobFailure, RpcErrorCode
from shared.messages import Battery, BatteryBrief, DroneStatus, GpsInfo, JobSpec, Position, Progress


class FakeSettings(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    steps: int = 5
    step_s: float = 0.05
    fail_at_step: int | None = None
    telemetry_period_s: float = 0.2


_HOME_LAT, _HOME_LNG, _HOME_ALT_M = 47.3977, 8.5456, 488.0


class FakeDriver:
    """A pretend drone: state changes with jobs and actions, telemetry follows the state."""

    kind = "fake"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        try:
            self.settings = msgspec.convert(dict(settings), FakeSettings)
        except msgspec.ValidationError as exc:
            raise DriverConfigError(f"driver.fake: {exc}") from None
        s = self.settings
        if s.steps < 1 or s.step_s < 0 or s.telemetry_period_s <= 0:
            raise DriverConfigError(
                "driver.fake: steps must be >= 1, step_s >= 0, telemetry_period_s > 0"
            )
        self.armed = False
        self.status = "landed"
        self.mode = "HOLD"
        self.height_m = 0.0
        self.battery_pct = 100.0
        self.lat, self.lng = _HOME_LAT, _HOME_LNG
        self.prepared: dict[str, Path] = {}
        """Files of the last prepared job (tests look at them)."""
        self.emergency_stops = 0
        self.calibrations = 0

    @property
    def actions(self) -> frozenset[str]:
        return frozenset({"arm", "disarm", "takeoff", "land", "rtl", "hold", "goto", "calibrate"})

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"type": "drone", "driver": self.kind, "actions": sorted(self.actions)}

    async def prepare(self, job: JobSpec, files: Mapping[str, Path]) -> None:
        for key, path in files.items():
            if not path.is_file():
                raise DriverError(JobFailure.INVALID_JOB, f"file {key!r} is missing")
        self.prepared = dict(files)

    async def run(self, job: JobSpec, report_progress: ProgressReporter) -> None:
        s = self.settings
        self.armed, self.status, self.mode = True, "in_air", "MISSION"
        for step in range(1, s.steps + 1):
            await asyncio.sleep(s.step_s)
            if s.fail_at_step is not None and step >= s.fail_at_step:
                self.mode = "HOLD"
                raise DriverError(
                    JobFailure.DRIVER_ERROR, f"the fake vehicle failed at step {step}"
                )
            self.height_m = 20.0
            self.lat += 0.0001
            self.battery_pct = max(0.0, self.battery_pct - 0.5)
            await report_progress(
                Progress(current=step, total=s.steps, percent=round(100.0 * step / s.steps, 2))
            )
        self.armed, self.status, self.mode, self.height_m = False, "landed", "HOLD", 0.0

    async def resume(self, job: JobSpec, files: Mapping[str, Path], last_item: int | None) -> bool:
        return False  # a pretend flight does not outlive the agent

    async def stop(self, action: str | None) -> None:
        await self.action(action or "hold", {})

    async def emergency_stop(self) -> None:
        self.emergency_stops += 1
        self.mode = "LAND"
        self.status = "landed"
        self.armed, self.height_m = False, 0.0

    async def action(self, name: str, params: Mapping[str, Any]) -> Any:
        if name not in self.actions:
            raise DriverError(RpcErrorCode.UNSUPPORTED, f"the fake driver has no action {name!r}")
        if name == "arm":
            self.armed = True
        elif name == "disarm":
            if self.status == "in_air":
                raise DriverError(RpcErrorCode.NOT_ARMABLE, "cannot disarm in the air")
            self.armed = False
        elif name == "takeoff":
            self.armed, self.status, self.mode = True, "in_air", "TAKEOFF"
            self.height_m = float(params.get("altitude_m", 10.0))
        elif name in ("land", "rtl"):
            self.status, self.mode, self.height_m, self.armed = "landed", name.upper(), 0.0, False
            if name == "rtl":
                self.lat, self.lng = _HOME_LAT, _HOME_LNG
        elif name == "hold":
            self.mode = "HOLD"
        elif name == "calibrate":  # a slow command: takes ``duration_s`` (default 0.5)
            await asyncio.sleep(min(10.0, float(params.get("duration_s", 0.5))))
            self.calibrations += 1
            return {"calibrations": self.calibrations}
        elif name == "goto":
            try:
                self.lat, self.lng = float(params["lat"]), float(params["lng"])
            except (KeyError, TypeError, ValueError):
                raise DriverError(RpcErrorCode.INVALID_PARAMS, "goto needs lat and lng") from None
        return {"mode": self.mode, "status": self.status}

    def samples(self) -> list[TelemetrySample]:
        """The current state as telemetry."""
        heading = math.degrees(math.atan2(self.lng - _HOME_LNG, self.lat - _HOME_LAT)) % 360.0
        return [
            TelemetrySample(
                "position",
                Position(
                    lat=round(self.lat, 7),
                    lng=round(self.lng, 7),
                    alt=_HOME_ALT_M + self.height_m,
                    height=self.height_m,
                    heading=round(heading, 1),
                ),
            ),
            TelemetrySample("battery", Battery(remain=self.battery_pct, voltage=16.2)),
            TelemetrySample(
                "drone_status",
                DroneStatus(
                    status=self.status,
                    mode=self.mode,
                    speed=5.0 if self.status == "in_air" else 0.0,
                    height=self.height_m,
                    armed=self.armed,
                    gps=GpsInfo(type=3, satcount=12),
                    battery=BatteryBrief(percent=self.battery_pct, voltage=16.2),
                ),
            ),
        ]

    async def telemetry(self) -> AsyncIterator[TelemetrySample]:
        while True:
            for sample in self.samples():
                yield sample
            await asyncio.sleep(self.settings.telemetry_period_s)
