"""Typed settings of the control plane, read from ``GOSD_*`` environment variables.

Nothing reads the environment at import time: ``Settings.from_env()`` is called by the
CLI, and tests build ``Settings`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args, get_origin
from urllib.parse import unquote, urlsplit

import msgspec

from control_plane.live.channel import RelayConfig
from shared.mission.feasibility import PX4_DEFAULTS, MissionLimits


class SettingsError(ValueError):
    """An environment variable holds a value the control plane cannot use."""


def default_data_dir() -> Path:
    """Where state lives when ``GOSD_DATA_DIR`` is unset (XDG data home)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "gosd"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the control plane can be configured with.

    Each field maps to ``GOSD_<FIELD NAME IN CAPITALS>``; the README lists them.
    """

    data_dir: Path = field(default_factory=default_data_dir)
    """Database (when SQLite) and blob files live here."""
    database_url: str = ""
    """``sqlite:///path`` or ``postgres://user:pass@host:port/db``; empty: SQLite in data_dir."""
    base_path: str = "/gosd"
    """URL prefix of every route, as the seed's clients expect."""
    access_token_ttl_s: int = 7200
    """Lifetime of an access token (the seed answers ``expires_in: 7200``)."""
    refresh_token_ttl_s: int = 30 * 24 * 3600
    """Lifetime of a refresh token."""
    upload_max_bytes: int = 2 * 1024**3
    """Largest request body a blob, plan or job upload may have; more answers 413."""
    login_max_failures: int = 5
    """Failed password logins in a row before the account is locked."""
    login_lockout_s: int = 300
    """How long a locked account stays locked."""
    log_level: str = "INFO"
    """Python logging level name."""
    mqtt_url: str = ""
    """External broker, ``mqtt://user:pass@host:port``; empty: start the embedded broker."""
    mqtt_listen: str = "127.0.0.1:1883"
    """``host:port`` the embedded broker listens on (unused with ``mqtt_url``)."""
    mqtt_public_url: str = ""
    """Broker URL written into agent configs; empty: derived from the two above."""
    queue_timeout_s: int = 600
    """How long a queued job waits for its offline node before it fails ``node_offline``."""
    rpc_timeout_s: int = 10
    """How long the control plane waits for an agent to answer an RPC, retries included."""
    public_url: str = ""
    """Base URL agents reach this API at (``http://host:port/gosd``); empty: the bind address."""
    live_gop_cache_bytes: int = 4 * 1024 * 1024
    """Most bytes of a live stream kept from its latest key frame on, for new viewers."""
    live_viewer_queue_bytes: int = 8 * 1024 * 1024
    """Most bytes queued for one viewer; a viewer that falls further behind skips to the
    next key frame."""
    live_max_tag_bytes: int = 8 * 1024 * 1024
    """Largest FLV tag a node may publish (a larger one cuts its stream with 400)."""
    live_grace_s: float = 5.0
    """How long viewers stay connected after their stream's publisher left."""
    live_linger_s: float = 10.0
    """How long after its last viewer left a node is asked to stop a stream."""
    live_wait_s: float = 10.0
    """How long a viewer waits for a stream to start before it is answered 503."""
    live_token_key: str = ""
    """Key of the viewer tokens' signatures; empty: a random key per process (set it when
    several replicas serve one API)."""
    live_token_max_ttl_s: int = 24 * 3600
    """Longest lifetime a viewer token may be asked for."""
    mission_max_first_waypoint_distance_m: float = PX4_DEFAULTS.max_first_waypoint_distance_m
    """A plan's first waypoint must be closer to its home than this, metres (PX4's
    ``MIS_DIST_1WP``); 0: no limit. The mission checks' limits: ``MissionLimits``."""
    mission_max_waypoint_distance_m: float = PX4_DEFAULTS.max_waypoint_distance_m
    """Longest leg between waypoints, metres (PX4's ``MIS_DIST_WPS``, up to v1.13); 0: none."""
    mission_takeoff_land_required: int = PX4_DEFAULTS.takeoff_land_required
    """PX4's ``MIS_TKO_LAND_REQ`` (0..5): whether a mission needs a takeoff and/or landing."""
    mission_below_home: str = PX4_DEFAULTS.below_home
    """``refuse`` or ``allow`` waypoints lower than home."""

    @property
    def effective_database_url(self) -> str:
        """The database URL with the SQLite default filled in."""
        if self.database_url:
            return self.database_url
        return f"sqlite://{self.data_dir / 'gosd.sqlite3'}"

    @property
    def mission_limits(self) -> MissionLimits:
        """The limits plans' missions are checked with (``shared.mission.feasibility``)."""
        return msgspec.convert(
            {name: getattr(self, "mission_" + name) for name in _MISSION_LIMITS}, MissionLimits
        )

    @property
    def relay_config(self) -> RelayConfig:
        """The live relay's bounds and delays."""
        return RelayConfig(
            gop_cache_bytes=self.live_gop_cache_bytes,
            viewer_queue_bytes=self.live_viewer_queue_bytes,
            grace_s=self.live_grace_s,
            linger_s=self.live_linger_s,
            wait_s=self.live_wait_s,
            max_tag_bytes=self.live_max_tag_bytes,
        )

    @property
    def blob_dir(self) -> Path:
        """Root of the content-addressed blob files."""
        return self.data_dir / "blobs"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``GOSD_*`` variables; ``overrides`` win over the environment.

        Raises ``SettingsError`` naming the variable when a value does not parse.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = "GOSD_" + f.name.upper()
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(name, raw, f.default)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse values that would make the server misbehave later rather than now."""
        for name in (
            "access_token_ttl_s",
            "refresh_token_ttl_s",
            "upload_max_bytes",
            "login_max_failures",
            "login_lockout_s",
            "queue_timeout_s",
            "rpc_timeout_s",
            "live_gop_cache_bytes",
            "live_viewer_queue_bytes",
            "live_max_tag_bytes",
            "live_grace_s",
            "live_linger_s",
            "live_wait_s",
            "live_token_max_ttl_s",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"GOSD_{name.upper()} must be a positive number")
        if not self.base_path.startswith("/") or self.base_path.endswith("/"):
            raise SettingsError("GOSD_BASE_PATH must start with '/' and not end with one")
        url = self.effective_database_url
        if not url.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise SettingsError(
                "GOSD_DATABASE_URL must start with sqlite://, postgres:// or postgresql://"
            )

        if self.mqtt_url:
            broker_url(self.mqtt_url)
        listen_address(self.mqtt_listen, "GOSD_MQTT_LISTEN")
        for name in _MISSION_LIMITS:
            try:
                msgspec.convert({name: getattr(self, "mission_" + name)}, MissionLimits)
            except msgspec.ValidationError as exc:
                why = str(exc).split(" - at ")[0]
                if name in _MISSION_WORDS:
                    why += f" (use {' or '.join(_MISSION_WORDS[name])})"
                raise SettingsError(f"GOSD_MISSION_{name.upper()}: {why}") from None

    def with_changes(self, **changes: Any) -> Settings:
        """A copy with some fields changed (for tests and the demo)."""
        return replace(self, **changes)


_MISSION_LIMITS = tuple(f.name for f in msgspec.structs.fields(MissionLimits))
"""``MissionLimits`` fields, each a setting ``mission_<field>``."""
_MISSION_WORDS = {
    f.name: tuple(map(str, get_args(f.type)))
    for f in msgspec.structs.fields(MissionLimits)
    if get_origin(f.type) is Literal
}
"""The words a ``MissionLimits`` field of words takes."""


def _parse(name: str, raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if name == "GOSD_DATA_DIR":
        return Path(raw).expanduser()
    return raw


class BrokerUrl(NamedTuple):
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool


def broker_url(url: str, variable: str = "GOSD_MQTT_URL") -> BrokerUrl:
    """Parse ``mqtt://user:pass@host:port`` (``mqtts://`` for TLS); SettingsError says why not."""
    parts = urlsplit(url)
    if parts.scheme not in {"mqtt", "mqtts"} or not parts.hostname:
        raise SettingsError(f"{variable} must look like mqtt://user:pass@host:port, not {url!r}")
    try:
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
    except ValueError:
        raise SettingsError(f"{variable} has an invalid port") from None
    return BrokerUrl(
        parts.hostname,
        port,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        parts.scheme == "mqtts",
    )


def listen_address(value: str, variable: str) -> tuple[str, int]:
    """Parse ``host:port`` (port 0: any free port); SettingsError names the variable if not."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise SettingsError(f"{variable} must be host:port, not {value!r}")
    return host.strip("[]"), int(port)
