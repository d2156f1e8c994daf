"""One vehicle's MAVLink 2 link: a UDP socket speaking as PX4's autopilot (system 1, component 1).

PX4 SITL convention: instance i sends to ``target_host:base_port+i`` (where MAVSDK
listens with ``udpin://0.0.0.0:14540+i``) from its own bound port, and then answers
whoever talks to it. Telemetry streams run on the wall clock, because MAVSDK's liveness
and timeouts are wall time whatever the simulation speed-up. Hostile datagrams (random
bytes, bad CRC, truncated, for another system) are counted and dropped; nothing a peer
sends can stop the endpoint.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymavlink.dialects.v20 import common as mavlink

from simulator import geo
from simulator.commands import Command, execute
from simulator.faults import Faults
from simulator.mission_protocol import MissionProtocol
from simulator.param_protocol import ParamProtocol
from simulator.vehicle import LandedState, Px4Mode, Vehicle

log = logging.getLogger(__name__)

SYSTEM_ID = 1
COMPONENT_ID = 1
GCS_TYPE = mavlink.MAV_TYPE_GCS

M = mavlink
DEFAULT_INTERVALS_S: dict[int, float] = {
    M.MAVLINK_MSG_ID_HEARTBEAT: 1.0,
    M.MAVLINK_MSG_ID_SYS_STATUS: 0.5,
    M.MAVLINK_MSG_ID_BATTERY_STATUS: 0.5,
    M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: 0.1,
    M.MAVLINK_MSG_ID_ATTITUDE: 0.1,
    M.MAVLINK_MSG_ID_GPS_RAW_INT: 0.5,
    M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: 0.5,
    M.MAVLINK_MSG_ID_HOME_POSITION: 2.0,
    M.MAVLINK_MSG_ID_VFR_HUD: 0.25,
    M.MAVLINK_MSG_ID_MISSION_CURRENT: 0.5,
    M.MAVLINK_MSG_ID_LOCAL_POSITION_NED: 0.25,
}
"""Wall-clock stream intervals, seconds (SET_MESSAGE_INTERVAL changes them)."""
ON_REQUEST_ONLY = frozenset({M.MAVLINK_MSG_ID_AUTOPILOT_VERSION})
"""Messages sent when asked for, never streamed by default."""
MIN_INTERVAL_S = 0.01
"""Streams faster than 100 Hz are clamped."""
STATUSTEXT_BYTES = 50
"""The text field of one STATUSTEXT."""

CAPABILITIES = (
    M.MAV_PROTOCOL_CAPABILITY_MISSION_FLOAT
    | M.MAV_PROTOCOL_CAPABILITY_PARAM_FLOAT
    | M.MAV_PROTOCOL_CAPABILITY_MISSION_INT
    | M.MAV_PROTOCOL_CAPABILITY_COMMAND_INT
    | M.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE
    | M.MAV_PROTOCOL_CAPABILITY_SET_POSITION_TARGET_GLOBAL_INT
    | M.MAV_PROTOCOL_CAPABILITY_MAVLINK2
    | M.MAV_PROTOCOL_CAPABILITY_MISSION_FENCE
    | M.MAV_PROTOCOL_CAPABILITY_MISSION_RALLY
)
"""What PX4 advertises that the simulator implements (MAVSDK uses MISSION_INT to choose
MISSION_ITEM_INT; it decodes parameters bytewise for any non-ArduPilot autopilot)."""
FLIGHT_SW_VERSION = (1 << 24) | (15 << 16) | (0 << 8) | 255
"""v1.15.0, FIRMWARE_VERSION_TYPE_OFFICIAL."""

SENSORS = (
    M.MAV_SYS_STATUS_SENSOR_3D_GYRO
    | M.MAV_SYS_STATUS_SENSOR_3D_ACCEL
    | M.MAV_SYS_STATUS_SENSOR_3D_MAG
    | M.MAV_SYS_STATUS_SENSOR_ABSOLUTE_PRESSURE
    | M.MAV_SYS_STATUS_SENSOR_GPS
    | M.MAV_SYS_STATUS_AHRS
    | M.MAV_SYS_STATUS_SENSOR_BATTERY
)


@dataclass
class LinkStats:
    """Counters of one endpoint."""

    received: int = 0
    """Messages handled."""
    sent: int = 0
    malformed: int = 0
    """Undecodable bytes, bad CRC, truncated packets."""
    not_for_us: int = 0
    """Messages addressed to another system or component."""
    failed: int = 0
    """Messages whose handling raised (a bug, logged)."""


class VehicleEndpoint(asyncio.DatagramProtocol):
    """The UDP link of one vehicle; ``tick`` is called by the fleet's loop."""

    def __init__(
        self,
        vehicle: Vehicle,
        faults: Faults,
        target: tuple[str, int],
        uid: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.vehicle = vehicle
        self.faults = faults
        self.peer = target
        """Where datagrams go: the target until someone talks to us, then the last talker."""
        self.uid = uid
        self.clock = clock
        self.stats = LinkStats()
        self.transport: asyncio.DatagramTransport | None = None
        self.mav = mavlink.MAVLink(None, SYSTEM_ID, COMPONENT_ID)
        self._parser = mavlink.MAVLink(None, 0, 0)
        self._parser.robust_parsing = True
        self.intervals_s = dict(DEFAULT_INTERVALS_S)
        self._start_s = clock()
        # Vehicles of a fleet start together: spread their stream phases so the loop is
        # not asked to send every vehicle's heartbeat in the same tick.
        phase = (uid * 0.618034) % 1.0
        self._due_s: dict[int, float] = {
            message_id: self._start_s + phase * interval
            for message_id, interval in self.intervals_s.items()
        }
        self._after_ack: list[Any] | None = None
        """Messages a command asked for, sent once its ACK is out."""
        self.last_gcs_heartbeat_s: float | None = None
        """Wall time of the last GCS heartbeat (None: no GCS seen yet)."""
        self._last_state: tuple[object, ...] = ()
        self._last_mission: tuple[int, int, int] = (-1, -1, -1)
        self._last_home: object = None
        self._text_id = 0
        """The ``id`` of the last chunked STATUSTEXT (1..65535)."""
        self.missions = MissionProtocol(vehicle, self.mav, self.send, clock)
        self.param_service = ParamProtocol(vehicle.params, self.mav, self.send)
        self._builders: dict[int, Callable[[], Any]] = {
            M.MAVLINK_MSG_ID_HEARTBEAT: self._heartbeat,
            M.MAVLINK_MSG_ID_SYS_STATUS: self._sys_status,
            M.MAVLINK_MSG_ID_BATTERY_STATUS: self._battery_status,
            M.MAVLINK_MSG_ID_GLOBAL_POSITION_INT: self._global_position,
            M.MAVLINK_MSG_ID_ATTITUDE: self._attitude,
            M.MAVLINK_MSG_ID_GPS_RAW_INT: self._gps_raw,
            M.MAVLINK_MSG_ID_EXTENDED_SYS_STATE: self._extended_sys_state,
            M.MAVLINK_MSG_ID_HOME_POSITION: self._home_position,
            M.MAVLINK_MSG_ID_VFR_HUD: self._vfr_hud,
            M.MAVLINK_MSG_ID_MISSION_CURRENT: self._mission_current,
            M.MAVLINK_MSG_ID_AUTOPILOT_VERSION: self._autopilot_version,
            M.MAVLINK_MSG_ID_LOCAL_POSITION_NED: self._local_position,
            M.MAVLINK_MSG_ID_ALTITUDE: self._altitude,
            M.MAVLINK_MSG_ID_ATTITUDE_QUATERNION: self._attitude_quaternion,
        }

    # ------------------------------------------------------------ asyncio protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport here

    def error_received(self, exc: Exception) -> None:
        log.debug("vehicle %d: socket error %s", self.uid, exc)  # e.g. ICMP port unreachable

    @property
    def local_port(self) -> int:
        assert self.transport is not None
        port: int = self.transport.get_extra_info("sockname")[1]
        return port

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.faults.drops(inbound=True):
            return
        parser = self._parser
        parser.buf, parser.buf_index = bytearray(), 0  # a datagram never continues another
        parser.expected_length = mavlink.HEADER_LEN_V1 + 2
        try:
            messages = parser.parse_buffer(data) or []
        except Exception:  # pymavlink raising on input: count it, never crash
            self.stats.malformed += 1
            return
        if parser.buf_len() > 0:
            self.stats.malformed += 1  # a truncated packet at the end
        parser.buf, parser.buf_index = bytearray(), 0
        for msg in messages:
            if msg.get_type() == "BAD_DATA" or msg.get_msgId() < 0:
                self.stats.malformed += 1
                continue
            if not self._for_us(msg):
                self.stats.not_for_us += 1
                continue
            self.peer = addr
            try:
                self._handle(msg)
            except Exception:
                self.stats.failed += 1
                log.exception("vehicle %d: handling %s failed", self.uid, msg.get_type())
            else:
                self.stats.received += 1

    @staticmethod
    def _for_us(msg: Any) -> bool:
        target_system = getattr(msg, "target_system", 0)
        target_component = getattr(msg, "target_component", 0)
        return target_system in (0, SYSTEM_ID) and target_component in (0, COMPONENT_ID)

    # ------------------------------------------------------------ inbound

    def _handle(self, msg: Any) -> None:
        kind = msg.get_type()
        if kind == "HEARTBEAT":
            if msg.type == GCS_TYPE:
                self.last_gcs_heartbeat_s = self.clock()
            return
        if kind in ("COMMAND_LONG", "COMMAND_INT"):
            cmd = Command.from_long(msg) if kind == "COMMAND_LONG" else Command.from_int(msg)
            self._after_ack = []
            try:
                result = execute(cmd, self.vehicle, self.faults, self)
            finally:
                after, self._after_ack = self._after_ack, None
            # What the command made the vehicle say (a refusal's reason) goes before its
            # ACK: a client that has the ACK has the reason. PX4 publishes both in one
            # cycle; MAVLink does not fix their order on the wire.
            self._send_events()
            self.send(
                self.mav.command_ack_encode(
                    cmd.command, result, 0, 0, msg.get_srcSystem(), msg.get_srcComponent()
                )
            )
            for message in after:  # requested messages follow the ACK, as on PX4
                self.send(message)
            self._flush_changes()
            self._send_events()
            return
        if self.missions.handle(msg):
            # an upload's verdict (PX4's item or feasibility texts) follows its ACK at once
            self._flush_changes()
            self._send_events()
            return
        if self.param_service.handle(msg):
            return
        # Anything else (RC, timesync, ...) is ignored as PX4 ignores what it does not use.

    # ------------------------------------------------------------ MessageService

    def set_interval(self, message_id: int, interval_s: float | None) -> bool:
        if message_id not in self._builders:
            return False
        if interval_s is None:
            if message_id in DEFAULT_INTERVALS_S:
                self.intervals_s[message_id] = DEFAULT_INTERVALS_S[message_id]
            else:
                self.intervals_s.pop(message_id, None)
        elif interval_s < 0:
            self.intervals_s.pop(message_id, None)
        else:
            self.intervals_s[message_id] = max(interval_s, MIN_INTERVAL_S)
            self._due_s[message_id] = self.clock()
        return True

    def send_once(self, message_id: int) -> bool:
        builder = self._builders.get(message_id)
        if builder is None:
            return False
        message = builder()
        if message is None:
            return False
        if self._after_ack is not None:
            self._after_ack.append(message)
        else:
            self.send(message)
        return True

    # ------------------------------------------------------------ outbound

    def send(self, message: Any) -> None:
        if self.transport is None or self.faults.drops(inbound=False):
            return
        self.transport.sendto(message.pack(self.mav), self.peer)
        self.mav.seq = (self.mav.seq + 1) % 256
        self.stats.sent += 1

    def tick(self) -> None:
        """Send what is due now: events, change-driven messages, then the streams.

        Events first, as PX4 does: an item's MISSION_ITEM_REACHED goes out before the
        MISSION_CURRENT of where the mission went on. MAVSDK takes a reached item ``n``
        for "current is n + 1": sent after a DO_JUMP's new current item, it would move
        the current item back for a moment (the agent then saw a jump's skipped item
        as flown)."""
        now = self.clock()
        v = self.vehicle
        if self.last_gcs_heartbeat_s is not None:
            silent_s = now - self.last_gcs_heartbeat_s
            v.link_lost = silent_s > v.params["COM_DL_LOSS_T"]
        self.missions.tick()
        self._send_events()
        self._flush_changes()
        for message_id, interval_s in list(self.intervals_s.items()):
            due = self._due_s.get(message_id, 0.0)
            if now >= due:
                self._due_s[message_id] = max(due + interval_s, now)
                message = self._builders[message_id]()
                if message is not None:
                    self.send(message)

    def _flush_changes(self) -> None:
        v = self.vehicle
        state = (v.armed, v.mode, v.landed_state)
        if state != self._last_state:
            self._last_state = state
            self.send(self._heartbeat())
            self.send(self._extended_sys_state())
            self.send(self._sys_status())
        mission = (v.mission_seq, len(v.mission), int(v.mission_state))
        if mission != self._last_mission:
            self._last_mission = mission
            self.send(self._mission_current())
        if v.home != self._last_home:
            self._last_home = v.home
            home = self._home_position()
            if home is not None:
                self.send(home)

    def _send_events(self) -> None:
        v = self.vehicle
        if not v.events:
            return
        events, v.events = v.events, []
        for event in events:
            if event.kind == "item_reached":
                self.send(self.mav.mission_item_reached_encode(event.seq))
                self.send(self._mission_current())
            else:
                self._send_text(event.severity, event.text)

    def _send_text(self, severity: int, text: str) -> None:
        """A STATUSTEXT; a text longer than one message's 50 bytes goes in chunks sharing
        an ``id``, the last one shorter than 50 bytes (MAVLink 2's rule, which MAVSDK
        follows to join them)."""
        data = text.encode("utf-8")
        if len(data) <= STATUSTEXT_BYTES:
            self.send(self.mav.statustext_encode(severity, data))
            return
        self._text_id = self._text_id % 0xFFFF + 1
        chunks = [data[i : i + STATUSTEXT_BYTES] for i in range(0, len(data), STATUSTEXT_BYTES)]
        if len(chunks[-1]) == STATUSTEXT_BYTES:
            chunks.append(b"")
        for seq, chunk in enumerate(chunks):
            self.send(self.mav.statustext_encode(severity, chunk, self._text_id, seq))

    # ------------------------------------------------------------ message builders

    def _boot_ms(self) -> int:
        return int((self.clock() - self._start_s) * 1000) & 0xFFFFFFFF

    def _heartbeat(self) -> Any:
        v = self.vehicle
        base = M.MAV_MODE_FLAG_CUSTOM_MODE_ENABLED | M.MAV_MODE_FLAG_STABILIZE_ENABLED
        if v.mode.name.startswith("AUTO"):
            base |= M.MAV_MODE_FLAG_AUTO_ENABLED | M.MAV_MODE_FLAG_GUIDED_ENABLED
        if v.armed:
            base |= M.MAV_MODE_FLAG_SAFETY_ARMED
        status = M.MAV_STATE_ACTIVE if v.armed else M.MAV_STATE_STANDBY
        return self.mav.heartbeat_encode(
            M.MAV_TYPE_QUADROTOR, M.MAV_AUTOPILOT_PX4, base, v.mode.custom_mode, status, 3
        )

    def _sys_status(self) -> Any:
        v = self.vehicle
        health = SENSORS if not v.gps_lost else SENSORS & ~M.MAV_SYS_STATUS_SENSOR_GPS
        if v.arming_problem() is None:
            health |= M.MAV_SYS_STATUS_PREARM_CHECK
        current_ca = -1 if not v.armed else (1500 if v.in_air else 200)
        return self.mav.sys_status_encode(
            SENSORS | M.MAV_SYS_STATUS_PREARM_CHECK,
            SENSORS | M.MAV_SYS_STATUS_PREARM_CHECK,
            health,
            250,
            round(v.voltage_v * 1000),
            current_ca,
            round(v.battery_pct),
            0,
            0,
            0,
            0,
            0,
            0,
        )

    def _battery_status(self) -> Any:
        v = self.vehicle
        cells = max(1, min(v.params.get_int("BAT_N_CELLS"), 10))
        cell_mv = round(v.voltage_v * 1000 / cells)
        voltages = [cell_mv] * cells + [65535] * (10 - cells)
        current_ca = -1 if not v.armed else (1500 if v.in_air else 200)
        return self.mav.battery_status_encode(
            0,
            M.MAV_BATTERY_FUNCTION_ALL,
            M.MAV_BATTERY_TYPE_LIPO,
            32767,
            voltages,
            current_ca,
            -1,
            -1,
            round(v.battery_pct),
            0,
            0,
            (0, 0, 0, 0),
            0,
            0,
        )

    def _global_position(self) -> Any:
        v = self.vehicle
        return self.mav.global_position_int_encode(
            self._boot_ms(),
            round(v.lat_deg * 1e7),
            round(v.lon_deg * 1e7),
            round(v.alt_amsl_m * 1000),
            round(v.rel_alt_m * 1000),
            _i16(v.vn_m_s * 100),
            _i16(v.ve_m_s * 100),
            _i16(v.vd_m_s * 100),
            round(v.heading_deg * 100) % 36000,
        )

    def _attitude(self) -> Any:
        v = self.vehicle
        yaw = math.radians(v.heading_deg)
        if yaw > math.pi:
            yaw -= 2 * math.pi
        pitch = -math.atan(v.groundspeed_m_s / 40.0)  # nose down to fly forward
        return self.mav.attitude_encode(self._boot_ms(), 0.0, pitch, yaw, 0.0, 0.0, 0.0)

    def _local_position(self) -> Any:
        """Position relative to home (north, east, down), as PX4's local frame."""
        v = self.vehicle
        home = v.home
        north_m, east_m = (
            geo.offset_m(home.lat_deg, home.lon_deg, v.lat_deg, v.lon_deg) if home else (0.0, 0.0)
        )
        return self.mav.local_position_ned_encode(
            self._boot_ms(), north_m, east_m, -v.rel_alt_m, v.vn_m_s, v.ve_m_s, v.vd_m_s
        )

    def _altitude(self) -> Any:
        v = self.vehicle
        return self.mav.altitude_encode(
            int(self._boot_ms()) * 1000, v.alt_amsl_m, v.alt_amsl_m, v.rel_alt_m, v.rel_alt_m,
            v.height_m, v.height_m,
        )  # fmt: skip

    def _attitude_quaternion(self) -> Any:
        v = self.vehicle
        yaw = math.radians(v.heading_deg)
        pitch = -math.atan(v.groundspeed_m_s / 40.0)
        cy, sy, cp, sp = (
            math.cos(yaw / 2),
            math.sin(yaw / 2),
            math.cos(pitch / 2),
            math.sin(pitch / 2),
        )
        return self.mav.attitude_quaternion_encode(
            self._boot_ms(), cy * cp, -sy * sp, cy * sp, sy * cp, 0.0, 0.0, 0.0
        )

    def _gps_raw(self) -> Any:
        v = self.vehicle
        fix = v.gps_fix_type
        lat = round(v.lat_deg * 1e7) if fix else 0
        lon = round(v.lon_deg * 1e7) if fix else 0
        return self.mav.gps_raw_int_encode(
            int(self._boot_ms()) * 1000,
            fix,
            lat,
            lon,
            round(v.alt_amsl_m * 1000) if fix else 0,
            80 if fix else 65535,
            120 if fix else 65535,
            round(v.groundspeed_m_s * 100),
            round(v.heading_deg * 100) % 36000,
            v.satellites,
        )

    def _extended_sys_state(self) -> Any:
        return self.mav.extended_sys_state_encode(
            M.MAV_VTOL_STATE_UNDEFINED, int(self.vehicle.landed_state)
        )

    def _home_position(self) -> Any:
        home = self.vehicle.home
        if home is None:
            return None
        return self.mav.home_position_encode(
            round(home.lat_deg * 1e7),
            round(home.lon_deg * 1e7),
            round(home.alt_amsl_m * 1000),
            0.0,
            0.0,
            0.0,
            [1.0, 0.0, 0.0, 0.0],
            0.0,
            0.0,
            0.0,
            int(self._boot_ms()) * 1000,
        )

    def _vfr_hud(self) -> Any:
        v = self.vehicle
        throttle = 0 if not v.armed else (55 if v.landed_state is not LandedState.ON_GROUND else 10)
        return self.mav.vfr_hud_encode(
            v.groundspeed_m_s,
            v.groundspeed_m_s,
            round(v.heading_deg) % 360,
            throttle,
            v.alt_amsl_m,
            -v.vd_m_s,
        )

    def _mission_current(self) -> Any:
        v = self.vehicle
        mode = 1 if v.mode is Px4Mode.AUTO_MISSION else 2
        return self.mav.mission_current_encode(
            v.mission_seq, len(v.mission), int(v.mission_state), mode
        )

    def _autopilot_version(self) -> Any:
        custom = [0] * 8
        return self.mav.autopilot_version_encode(
            CAPABILITIES,
            FLIGHT_SW_VERSION,
            FLIGHT_SW_VERSION,
            0,
            0,
            custom,
            custom,
            custom,
            0x26AC,
            0x0011,
            1000 + self.uid,
            [0] * 18,
        )


def _i16(value: float) -> int:
    return max(-32768, min(32767, round(value)))
