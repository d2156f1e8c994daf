"""Payloads of every topic (DESIGN §4) as msgspec Structs.

These types are the protocol: the codec decodes into them (rejecting what does not
fit), and the published contract (``contract.json``) is generated from them.
Times are Unix seconds (float) unless a field says otherwise.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

import msgspec

from shared.enums import JobStatus

PROTOCOL_VERSION = 1


class StatusCode(IntEnum):
    """``code`` of a status message: why the node is (not) reachable."""

    ONLINE = 0
    OFFLINE = 1
    """The agent stopped cleanly."""
    NETERROR = 2
    """The broker published the agent's last will: the link broke."""

    @property
    def label(self) -> str:
        return self.name.lower()


class AgentInfo(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    version: str
    protocol: int = PROTOCOL_VERSION
    capabilities: list[str] = msgspec.field(default_factory=list)
    """The RPC methods the agent serves."""


class NodeStatus(msgspec.Struct, frozen=True):
    """``nodes/{id}/status``: retained, and the agent's last will (code 2)."""

    code: StatusCode
    msg: str
    timestamp: str
    """Unix seconds as a decimal string, as the original sent it."""
    status: dict[str, Any] = msgspec.field(default_factory=dict)
    """Node details: ``type`` (``drone`` or ``depot``), ``link_id``, driver fields."""
    agent: AgentInfo | None = None


class Network(msgspec.Struct, frozen=True):
    """``nodes/{id}/network``: link quality to the broker, as the agent measures it."""

    loss: float
    """Percent of pings lost over the last window (0-100)."""
    delay: float
    """Round-trip time to the broker in milliseconds."""


class RpcError(msgspec.Struct, frozen=True, omit_defaults=True):
    code: int
    message: str
    data: Any = None


class RpcRequest(msgspec.Struct, frozen=True, omit_defaults=True, tag_field="jsonrpc", tag="2.0"):
    """``nodes/{id}/rpc/send``: JSON-RPC 2.0; ``id`` None makes a notification.

    ``"jsonrpc": "2.0"`` is the struct's tag: always written, and another value is refused.
    """

    method: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    id: str | None = None


class RpcResponse(msgspec.Struct, frozen=True, omit_defaults=True, tag_field="jsonrpc", tag="2.0"):
    """``nodes/{id}/rpc/recv``: exactly one of ``result`` and ``error``."""

    id: str | None
    result: Any = None
    error: RpcError | None = None

    def __post_init__(self) -> None:
        if self.error is not None and self.result is not None:
            raise ValueError("a response carries a result or an error, not both")


class FileRef(msgspec.Struct, frozen=True):
    """A job input: a blob the agent downloads over HTTP and checks before use."""

    blob_id: str
    sha256: str
    size: int
    filename: str = ""


class JobSpec(msgspec.Struct, frozen=True):
    """What ``job_start`` carries: everything the agent needs to run the job."""

    plan_id: int
    job_id: int
    files: dict[str, FileRef] = msgspec.field(default_factory=dict)
    extra: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def key(self) -> str:
        """A job's identity across the fleet."""
        return f"{self.plan_id}/{self.job_id}"


class JobStartParams(msgspec.Struct, frozen=True):
    job: JobSpec


class JobCancelParams(msgspec.Struct, frozen=True):
    plan_id: int
    job_id: int
    action: str | None = None
    """What the vehicle does next (``hold``, ``rtl``, ``land``); None: the driver's default."""


class HistoryParams(msgspec.Struct, frozen=True):
    topic: str
    """A telemetry name (``position``) or its whole topic (``nodes/1/msg/position``)."""
    time: float = 60.0
    """How far back, in seconds."""


class ActionParams(msgspec.Struct, frozen=True):
    name: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class Progress(msgspec.Struct, frozen=True, omit_defaults=True):
    """How far a running job is; every field is optional (omitted when unknown)."""

    current: int = 0
    """Steps done (for a mission: items reached)."""
    total: int = 0
    """Steps in all (for a mission: its items)."""
    percent: float = 0.0
    """``current`` over ``total`` as a percentage (0-100)."""
    item: int | None = None
    """The mission item (``seq``, 0-based) this event reports reached: its number in the
    mission file, also in a resumed job; each item once per job, in the order flown."""
    stage: str | None = None
    """Phase of a flight: ``takeoff``, ``mission``, ``holding``, ``returning``,
    ``landing``, ``landed``; with ``JobEvent.detail`` it tells the story."""


class JobEvent(msgspec.Struct, frozen=True, omit_defaults=True):
    """``nodes/{id}/events``: one step of a job's life, numbered per node (§4.2).

    ``stream`` names the agent's outbox: a node whose outbox was wiped starts a new
    stream at ``seq`` 1, and the control plane does not mistake it for old events.
    """

    seq: int
    stream: str
    plan_id: int
    job_id: int
    state: JobStatus
    time: float
    progress: Progress | None = None
    reason: str | None = None
    """Machine-readable cause of ``failed``/``cancelled`` (``shared.errors.JobFailure``)."""
    detail: str = ""
    """Human-readable detail."""


class EventAck(msgspec.Struct, frozen=True, omit_defaults=True):
    """``nodes/{id}/events/ack``: every event of ``stream`` up to ``seq`` is stored.

    ``replay`` asks the agent to publish again what follows ``seq`` at once: the control
    plane saw a gap (it missed events while it was away).
    """

    seq: int
    stream: str
    replay: bool = False


class PlanRunning(msgspec.Struct, frozen=True, omit_defaults=True):
    """``plans/{id}/running``: the plan's active job, or ``{}`` (all fields None)."""

    job_id: int | None = None
    node_id: int | None = None
    status: JobStatus | None = None
    progress: Progress | None = None
    started_at: float | None = None


# Telemetry (DESIGN §4.3). Fields are optional: a driver reports what it knows.


class Position(msgspec.Struct, frozen=True, omit_defaults=True):
    lat: float
    """Degrees, WGS84."""
    lng: float
    """Degrees, WGS84."""
    alt: float | None = None
    """Metres above mean sea level."""
    height: float | None = None
    """Metres above the home position."""
    heading: float | None = None
    """Degrees from north, clockwise, 0-360."""


class Battery(msgspec.Struct, frozen=True, omit_defaults=True):
    remain: float
    """Percent of charge left (0-100)."""
    voltage: float | None = None
    """Volts."""
    current: float | None = None
    """Amperes drawn."""


class GpsInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    type: int = 0
    """Fix type: 0-1 none, 2 2D, 3 3D, 4 DGPS, 5 RTK float, 6 RTK fixed."""
    satcount: int = 0


class BatteryBrief(msgspec.Struct, frozen=True, omit_defaults=True):
    percent: float | None = None
    voltage: float | None = None


class DroneStatus(msgspec.Struct, frozen=True, omit_defaults=True):
    status: str
    """``standby`` (on the ground), ``flying``, ``error`` (vehicle link lost); the fake
    driver also says ``landed``/``in_air``."""
    mode: str = ""
    """Flight mode name as the autopilot reports it."""
    speed: float | None = None
    """Ground speed in m/s."""
    height: float | None = None
    """Metres above home."""
    armed: bool | None = None
    gps: GpsInfo | None = None
    battery: BatteryBrief | None = None


class DockWeather(msgspec.Struct, frozen=True, omit_defaults=True):
    """The dock's weather station."""

    wind_speed: float | None = None
    """Metres per second."""
    wind_direction: float | None = None
    """Degrees from north, clockwise, where the wind comes from."""
    rain: str | None = None
    """``none``, ``light``, ``moderate``, ``heavy``."""
    temperature: float | None = None
    """Degrees Celsius."""
    humidity: float | None = None
    """Percent relative humidity."""


class DockCommand(msgspec.Struct, frozen=True, omit_defaults=True):
    """The dock command the agent ran last (or runs), as the dock reports it."""

    name: str
    """The action (``cover_open``...)."""
    seq: int = 0
    """Its command sequence number on the dock."""
    status: str = ""
    """``sent``, ``accepted``, ``in_progress``, ``ok``, ``failed``, ``rejected``, ``busy``,
    ``timeout``."""
    step: int = 0
    percent: float = 0.0
    """0-100 while in progress."""
    reason: str = ""
    """Why it failed or was rejected (``cover_jam``, ``flight_under_way``...)."""


class DepotStatus(msgspec.Struct, frozen=True, omit_defaults=True):
    """``msg/depot_status``: the original's four fields, then the dock's full state (the
    register map of ``shared.dock_registers``, in engineering units)."""

    status: str
    """``idle``, ``busy``, ``charging``, ``error``."""
    power: float | None = None
    """Charger power in watts."""
    door: str | None = None
    """``open``, ``closed``, ``moving``; also ``half_open`` and ``fault`` (never ``open``)."""
    fix: bool | None = None
    """Whether the drone on the pad is clamped."""
    mode: str | None = None
    """``idle``, ``working``, ``maintenance``, ``error``, ``emergency_stop``."""
    cover: str | None = None
    """``closed``, ``opening``, ``open``, ``closing``, ``half_open``, ``fault``."""
    cover_position: float | None = None
    """Percent open (0-100)."""
    clamp: str | None = None
    """``locked``, ``released``, ``moving``, ``fault``."""
    charger: str | None = None
    """``idle``, ``charging``, ``full``, ``fault``."""
    charge_voltage: float | None = None
    """Volts."""
    charge_current: float | None = None
    """Amperes."""
    drone_present: bool | None = None
    drone_power: bool | None = None
    drone_battery: float | None = None
    """Percent, the docked drone's charge as the charger sees it."""
    power_source: str | None = None
    """``mains``, ``battery``."""
    flight_under_way: bool | None = None
    """The dock keeps its cover open over an empty pad while this is set."""
    weather: DockWeather | None = None
    error: str | None = None
    """Why the dock is in error (``cover_jam``...), or why the agent does not trust what it
    reads (``dock_unreachable``, ``heartbeat_stale``, ``bad_register``,
    ``protocol_mismatch``): then ``status`` is ``error`` and the other fields are absent."""
    detail: str | None = None
    """Human-readable words for ``error``."""
    command: DockCommand | None = None
    uptime: float | None = None
    """The dock's PLC uptime in seconds (its heartbeat)."""


class Mission(msgspec.Struct, frozen=True, omit_defaults=True):
    """``msg/mission``: the vehicle's mission progress as the autopilot reports it."""

    current: int = 0
    """Index (0-based) of the item being flown; equal to ``total`` once finished."""
    total: int = 0
    """Items of the mission on the vehicle (0: none)."""
    finished: bool = False
    """Every item was reached."""
    job: str | None = None
    """``plan_id/job_id`` of the job flying it, when the agent runs one."""


class LivestreamHealth(msgspec.Struct, frozen=True):
    """How one video stream of the node fares (an entry of ``msg/livestream``)."""

    point_id: int
    state: str
    """``off`` (not wanted), ``starting`` (opening the source or the ingest), ``live``
    (frames reach the ingest), ``retrying`` (waiting to try again after an error),
    ``failed`` (given up: a dead source or a refused point; ``last_error`` says why; a
    new ``livestream_start`` tries again)."""
    mode: str
    """``always`` or ``on_demand``."""
    source: str
    """The configured source, credentials of a URL masked."""
    codec: str = ""
    """The source's codec as FFmpeg names it (``h264``, ``rawvideo``...); empty until opened."""
    passthrough: bool = False
    """Whether the source's H.264 is sent untouched (no decoding, no encoding)."""
    fps: float = 0.0
    """Frames per second sent to the ingest, over the last few seconds."""
    bitrate_kbps: float = 0.0
    """kbit/s sent to the ingest, over the last few seconds."""
    frames_dropped: int = 0
    """Frames dropped because the ingest was slower than the source (since the agent started)."""
    source_errors: int = 0
    """Times the source could not be opened or broke (since the agent started)."""
    last_error: str = ""
    requested: bool = False
    """Whether the stream is wanted now: ``always``, or started by ``livestream_start``
    (viewers are watching) and not stopped since."""


class Livestream(msgspec.Struct, frozen=True):
    """``msg/livestream``: the health of every configured video stream of the node."""

    streams: list[LivestreamHealth] = msgspec.field(default_factory=list)


class LivestreamParams(msgspec.Struct, frozen=True):
    """Params of ``livestream_start`` and ``livestream_stop``."""

    point_id: int


TELEMETRY: dict[str, type[msgspec.Struct]] = {
    "position": Position,
    "battery": Battery,
    "drone_status": DroneStatus,
    "depot_status": DepotStatus,
    "mission": Mission,
    "livestream": Livestream,
}
"""Telemetry names with a known shape; other ``msg/*`` names carry any JSON object."""
