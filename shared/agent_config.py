"""The edge agent's configuration file (TOML): its format, defaults and overrides.

Both deployables need it: the control plane writes a complete file for a node
(``gosd nodes add --agent-config``), the agent reads it (``gosd agent --config``).
Every key is documented here; ``GOSD_AGENT_*`` environment variables override the file
(``ENV_OVERRIDES``).

Each driver kind has its own settings table (``[driver.mavsdk]``, ``[driver.fake]``) and
``driver.kind`` picks the one that runs, so switching kinds (``gosd agent --driver fake``,
``GOSD_AGENT_DRIVER``) never feeds one driver the other's settings. Files written before
had one ``[driver.settings]`` table: it is read as the table of the file's own
``driver.kind``, and ignored, with a logged note, when the override picks another kind.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A configuration that cannot be used, with the key or variable at fault."""


class NodeSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    id: int
    """The node's id in the control plane."""
    secret: str
    """The node's secret: its OAuth client secret and its MQTT password."""


class BrokerSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str = "mqtt://127.0.0.1:1883"
    """``mqtt://host:port`` (or ``mqtts://``).

    The username is ``node-<id>``, the password the node's secret."""
    keepalive_s: int = 10
    """MQTT keep-alive: the broker publishes the last will after 1.5 periods of silence."""


class ControlPlaneSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    url: str = "http://127.0.0.1:8000/gosd"
    """Base URL of the control plane's HTTP API, for file downloads."""


class AgentSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    data_dir: str = "gosd-agent-data"
    """Where the event outbox and downloaded files live; relative to the config file."""
    telemetry_hz: float = 1.0
    """Highest rate per telemetry topic."""


class DriverSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    kind: str = "fake"
    """The driver that runs: ``mavsdk`` (a PX4 drone), ``depot`` (a dock over Modbus) or
    ``fake`` (no vehicle)."""
    mavsdk: dict[str, Any] = msgspec.field(default_factory=dict)
    """Settings of the ``mavsdk`` driver (documented in ``edge_agent/drivers/mavsdk_drone.py``),
    read only when it runs."""
    fake: dict[str, Any] = msgspec.field(default_factory=dict)
    """Settings of the ``fake`` driver (documented in ``edge_agent/drivers/fake.py``), read
    only when it runs."""
    depot: dict[str, Any] = msgspec.field(default_factory=dict)
    """Settings of the ``depot`` driver (documented in ``edge_agent/drivers/depot.py``:
    Modbus TCP host/port or RTU serial settings, unit id, poll period, deadlines, limits),
    read only when it runs."""

    @property
    def settings(self) -> dict[str, Any]:
        """The settings of the driver that runs (``kind``): its own table, nothing else."""
        tables = {"mavsdk": self.mavsdk, "fake": self.fake, "depot": self.depot}
        return tables.get(self.kind, {})

    @classmethod
    def of(cls, kind: str, settings: Mapping[str, Any]) -> DriverSection:
        """The section running ``kind`` with ``settings`` (in ``kind``'s own table)."""
        return msgspec.convert({"kind": kind, kind: dict(settings)}, cls)


class LivestreamSection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One ``[[livestream]]`` table: the video of one ``livestream_flv`` point, pushed as
    FLV to the control plane's ingest (``edge_agent/livestream/``)."""

    point_id: Annotated[int, msgspec.Meta(gt=0)]
    """The control plane's id of the point this stream feeds (one stream per point)."""
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    """Where the video comes from: a V4L2 device (``/dev/video0``); an ``rtsp://``,
    ``http(s)://``, ``tcp://`` or ``udp://`` URL (e.g. the simulator's camera,
    ``http://127.0.0.1:PORT/cameras/0.ts``); a file path (played in a loop, in real time);
    or ``testsrc`` (FFmpeg's test pattern, for a node without a camera)."""
    mode: Literal["always", "on_demand"] = "on_demand"
    """``always``: streams from the agent's start; ``on_demand``: only between the control
    plane's ``livestream_start`` and ``livestream_stop`` (when someone watches)."""
    encoder: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_]{1,40}$")] = "auto"
    """``auto``: pass H.264 through untouched, encode anything else with libx264;
    ``copy``: pass through only (a source that is not H.264 fails); ``libx264``: always
    encode; or the name of an FFmpeg hardware encoder (``h264_v4l2m2m``, ``h264_vaapi``,
    ``h264_nvenc``...)."""
    bitrate_kbps: Annotated[int, msgspec.Meta(ge=50, le=100_000)] = 1000
    """Target bitrate when encoding, kbit/s (a passed-through stream keeps its own)."""
    width: Annotated[int, msgspec.Meta(ge=0, le=7680, multiple_of=2)] = 0
    """Picture width when encoding, pixels; 0: the source's."""
    height: Annotated[int, msgspec.Meta(ge=0, le=4320, multiple_of=2)] = 0
    """Picture height when encoding, pixels; 0: the source's."""
    fps: Annotated[float, msgspec.Meta(gt=0, le=120)] = 30.0
    """Highest frame rate when encoding (frames beyond it are skipped); the size and rate
    of ``testsrc``."""


DRIVER_KINDS = tuple(name for name in DriverSection.__struct_fields__ if name != "kind")
"""Driver kinds with a settings table in the file."""


class AgentConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    node: NodeSection
    broker: BrokerSection = msgspec.field(default_factory=BrokerSection)
    control_plane: ControlPlaneSection = msgspec.field(default_factory=ControlPlaneSection)
    agent: AgentSection = msgspec.field(default_factory=AgentSection)
    driver: DriverSection = msgspec.field(default_factory=DriverSection)
    livestream: list[LivestreamSection] = msgspec.field(default_factory=list)
    """The ``[[livestream]]`` tables: one video stream per point."""


ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "GOSD_AGENT_NODE_ID": ("node", "id"),
    "GOSD_AGENT_NODE_SECRET": ("node", "secret"),
    "GOSD_AGENT_BROKER_URL": ("broker", "url"),
    "GOSD_AGENT_KEEPALIVE_S": ("broker", "keepalive_s"),
    "GOSD_AGENT_CONTROL_PLANE_URL": ("control_plane", "url"),
    "GOSD_AGENT_DATA_DIR": ("agent", "data_dir"),
    "GOSD_AGENT_TELEMETRY_HZ": ("agent", "telemetry_hz"),
    "GOSD_AGENT_DRIVER": ("driver", "kind"),
}
"""Environment variable -> (section, key) it overrides."""

_HEADER = """\
# gosd edge agent configuration. Run: gosd agent --config THIS_FILE
# It holds the node's secret: keep it readable by the agent's user only.
# driver.kind (or --driver) picks the driver; [driver.<kind>] holds that driver's settings.
"""


def dumps(config: AgentConfig) -> str:
    """The TOML text of a configuration (with a header saying what it is)."""
    return _HEADER + msgspec.toml.encode(config).decode()


def write(config: AgentConfig, path: Path) -> None:
    """Write a configuration readable by its owner only (it holds a secret)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(dumps(config))
    path.chmod(0o600)


def load(
    path: Path, environ: Mapping[str, str] | None = None, *, driver_kind: str | None = None
) -> AgentConfig:
    """Read ``path``, apply the environment overrides, validate; ``ConfigError`` says why not.

    ``driver_kind`` (``gosd agent --driver``) overrides ``driver.kind`` of the file and of
    ``GOSD_AGENT_DRIVER``.
    """
    environ = os.environ if environ is None else environ
    try:
        raw: dict[str, Any] = msgspec.toml.decode(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    file_kind = _driver_kind(raw)
    for variable, (section, key) in ENV_OVERRIDES.items():
        if variable in environ:
            value = environ[variable]
            raw.setdefault(section, {})[key] = _typed(variable, value, section, key)
    if driver_kind is not None:
        raw.setdefault("driver", {})["kind"] = driver_kind
    _read_legacy_settings(path, raw, file_kind)
    try:
        config = msgspec.convert(raw, AgentConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if config.node.id <= 0:
        raise ConfigError(f"{path}: node.id must be a positive integer")
    points = [stream.point_id for stream in config.livestream]
    for point in sorted({p for p in points if points.count(p) > 1}):
        raise ConfigError(f"{path}: livestream.point_id {point} is configured twice")
    data_dir = Path(config.agent.data_dir)
    if not data_dir.is_absolute():
        data_dir = path.parent / data_dir
    return msgspec.structs.replace(
        config, agent=msgspec.structs.replace(config.agent, data_dir=str(data_dir))
    )


def _driver_kind(raw: Mapping[str, Any]) -> str:
    """``driver.kind`` as the file has it (its default when absent)."""
    driver = raw.get("driver")
    kind = driver.get("kind") if isinstance(driver, dict) else None
    return kind if isinstance(kind, str) else DriverSection().kind


def _read_legacy_settings(path: Path, raw: dict[str, Any], file_kind: str) -> None:
    """Move a previous version's ``[driver.settings]`` to the table of the file's kind, or
    drop it (with a note) when an override picked another kind."""
    driver = raw.get("driver")
    if not isinstance(driver, dict) or "settings" not in driver:
        return
    settings = driver.pop("settings")
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: driver.settings must be a table")
    kind = _driver_kind(raw)
    if kind != file_kind:
        log.info(
            "%s: [driver.settings] is for the %s driver (driver.kind of the file); the %s "
            "driver chosen instead does not read it",
            path,
            file_kind,
            kind,
        )
    elif kind in DRIVER_KINDS:
        if kind in driver:
            raise ConfigError(
                f"{path}: both [driver.settings] and [driver.{kind}] set the {kind} driver; "
                f"keep [driver.{kind}]"
            )
        driver[kind] = settings


_NUMERIC: dict[tuple[str, str], type[int | float]] = {
    ("node", "id"): int,
    ("broker", "keepalive_s"): int,
    ("agent", "telemetry_hz"): float,
}


def _typed(variable: str, value: str, section: str, key: str) -> Any:
    kind = _NUMERIC.get((section, key))
    if kind is None:
        return value
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(f"{variable}={value!r} is not a number") from None
