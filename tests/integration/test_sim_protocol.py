"""The simulator's MAVLink protocols on the wire, including what a hostile peer sends.

A bare pymavlink "GCS" on a real UDP socket talks to a real in-process fleet, so the
exact replies (MISSION_ACK results, COMMAND_ACK results, PARAM_VALUE encoding) are
checked byte for byte where MAVSDK would hide them behind its own retries.
"""

from __future__ import annotations

import os
import socket
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pymavlink.dialects.v20 import common as mavlink

from simulator.fleet import DEFAULT_HOME, SimFleet
from simulator.mission_protocol import ITEM_RETRIES, ITEM_TIMEOUT_S
from tests.support import until

pytestmark = pytest.mark.integration


class Gcs:
    """A minimal ground station: a UDP socket bound where vehicle 0 sends."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.mav = mavlink.MAVLink(None, 245, 190)
        self.parser = mavlink.MAVLink(None)
        self.parser.robust_parsing = True
        self.vehicle_addr: tuple[str, int] | None = None
        self.inbox: list[Any] = []
        self.consumed: list[Any] = []

    def pump(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(65535)
            except BlockingIOError:
                return
            self.vehicle_addr = addr
            self.inbox.extend(
                m for m in self.parser.parse_buffer(data) or [] if m.get_type() != "BAD_DATA"
            )

    def raw(self, data: bytes) -> None:
        assert self.vehicle_addr is not None
        self.sock.sendto(data, self.vehicle_addr)

    def send(self, message: Any) -> None:
        self.raw(message.pack(self.mav))
        self.mav.seq = (self.mav.seq + 1) % 256

    async def expect(
        self, kind: str, where: Callable[[Any], bool] = lambda m: True, within: float = 5
    ) -> Any:
        """The first such message; it and the ones before it leave the inbox (those are
        kept in ``consumed`` until the next call)."""

        async def found() -> Any:
            self.pump()
            for i, message in enumerate(self.inbox):
                if message.get_type() == kind and where(message):
                    self.consumed = self.inbox[: i + 1]
                    del self.inbox[: i + 1]
                    return message
            return None

        return await until(found, f"a {kind} arrives", within)

    def clear(self) -> None:
        self.pump()
        self.inbox.clear()


@pytest.fixture
async def link() -> AsyncIterator[tuple[SimFleet, Gcs]]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    try:
        async with SimFleet(1, base_port=sock.getsockname()[1], speedup=10) as fleet:
            gcs = Gcs(sock)
            await gcs.expect("HEARTBEAT")
            gcs.send(
                gcs.mav.heartbeat_encode(
                    mavlink.MAV_TYPE_GCS, mavlink.MAV_AUTOPILOT_INVALID, 0, 0, 0
                )
            )
            yield fleet, gcs
    finally:
        sock.close()


def mission_item(
    seq: int, north_deg: float = 0.0, frame: int = 6, command: int = 16, kind: int = 0
) -> Any:
    return mavlink.MAVLink_mission_item_int_message(
        1,
        1,
        seq,
        frame,
        command,
        0,
        1,
        0,
        0,
        0,
        0,
        round((DEFAULT_HOME[0] + north_deg) * 1e7),
        round(DEFAULT_HOME[1] * 1e7),
        20,
        kind,
    )


async def upload(gcs: Gcs, items: list[Any], kind: int = 0) -> int:
    gcs.clear()
    gcs.send(gcs.mav.mission_count_encode(1, 1, len(items), kind))
    for _ in items:
        request = await gcs.expect("MISSION_REQUEST_INT")
        assert request.mission_type == kind
        gcs.send(items[request.seq])
    ack = await gcs.expect("MISSION_ACK")
    result: int = ack.type
    return result


async def test_streams_identify_a_px4_quadrotor_with_its_capabilities(
    link: tuple[SimFleet, Gcs],
) -> None:
    _, gcs = link
    heartbeat = await gcs.expect("HEARTBEAT")
    assert (heartbeat.autopilot, heartbeat.type) == (
        mavlink.MAV_AUTOPILOT_PX4,
        mavlink.MAV_TYPE_QUADROTOR,
    )
    assert heartbeat.get_srcSystem() == 1 and heartbeat.get_srcComponent() == 1
    assert heartbeat.custom_mode == (4 << 16) | (3 << 24)  # AUTO.LOITER
    status = await gcs.expect("SYS_STATUS")
    assert status.onboard_control_sensors_health & mavlink.MAV_SYS_STATUS_PREARM_CHECK
    assert status.onboard_control_sensors_health & mavlink.MAV_SYS_STATUS_SENSOR_GPS
    for kind in (
        "GLOBAL_POSITION_INT",
        "GPS_RAW_INT",
        "BATTERY_STATUS",
        "EXTENDED_SYS_STATE",
        "ATTITUDE",
        "VFR_HUD",
        "MISSION_CURRENT",
    ):
        await gcs.expect(kind)
    gcs.send(gcs.mav.command_long_encode(1, 1, 512, 0, 148, 0, 0, 0, 0, 0, 0))
    ack = await gcs.expect("COMMAND_ACK", lambda m: m.command == 512)
    assert ack.result == mavlink.MAV_RESULT_ACCEPTED and ack.target_system == 245
    version = await gcs.expect("AUTOPILOT_VERSION")
    for flag in (
        mavlink.MAV_PROTOCOL_CAPABILITY_MISSION_INT,
        mavlink.MAV_PROTOCOL_CAPABILITY_COMMAND_INT,
        mavlink.MAV_PROTOCOL_CAPABILITY_PARAM_ENCODE_BYTEWISE,
        mavlink.MAV_PROTOCOL_CAPABILITY_MAVLINK2,
    ):
        assert version.capabilities & flag


async def test_message_interval_speeds_up_and_stops_a_stream(link: tuple[SimFleet, Gcs]) -> None:
    fleet, gcs = link
    gcs.send(
        gcs.mav.command_long_encode(
            1, 1, 511, 0, mavlink.MAVLINK_MSG_ID_VFR_HUD, 20_000, 0, 0, 0, 0, 0
        )
    )
    await gcs.expect("COMMAND_ACK", lambda m: m.command == 511 and m.result == 0)
    assert fleet.endpoints[0].intervals_s[mavlink.MAVLINK_MSG_ID_VFR_HUD] == pytest.approx(0.02)
    gcs.send(
        gcs.mav.command_long_encode(1, 1, 511, 0, mavlink.MAVLINK_MSG_ID_VFR_HUD, -1, 0, 0, 0, 0, 0)
    )
    await gcs.expect("COMMAND_ACK", lambda m: m.command == 511 and m.result == 0)
    assert mavlink.MAVLINK_MSG_ID_VFR_HUD not in fleet.endpoints[0].intervals_s
    gcs.send(gcs.mav.command_long_encode(1, 1, 511, 0, 9999, 1000, 0, 0, 0, 0, 0))
    await gcs.expect(
        "COMMAND_ACK", lambda m: m.command == 511 and m.result == mavlink.MAV_RESULT_UNSUPPORTED
    )


async def test_params_list_read_by_id_and_index_and_set_int32_bytewise(
    link: tuple[SimFleet, Gcs],
) -> None:
    fleet, gcs = link
    gcs.clear()
    gcs.send(gcs.mav.param_request_list_encode(1, 1))
    first = await gcs.expect("PARAM_VALUE")
    names = {first.param_id}
    for _ in range(first.param_count - 1):
        names.add((await gcs.expect("PARAM_VALUE")).param_id)
    assert {
        "MIS_TAKEOFF_ALT",
        "NAV_DLL_ACT",
        "COM_DL_LOSS_T",
        "RTL_RETURN_ALT",
        "SYS_AUTOSTART",
    } <= names
    gcs.send(gcs.mav.param_request_read_encode(1, 1, b"COM_DL_LOSS_T", -1))
    value = await gcs.expect("PARAM_VALUE", lambda m: m.param_id == "COM_DL_LOSS_T")
    assert value.param_type == mavlink.MAV_PARAM_TYPE_INT32
    assert struct.unpack("<i", struct.pack("<f", value.param_value))[0] == 10
    gcs.send(gcs.mav.param_request_read_encode(1, 1, b"", value.param_index))
    again = await gcs.expect("PARAM_VALUE")
    assert again.param_id == "COM_DL_LOSS_T"
    bits = struct.unpack("<f", struct.pack("<i", 2))[0]
    gcs.send(gcs.mav.param_set_encode(1, 1, b"NAV_DLL_ACT", bits, mavlink.MAV_PARAM_TYPE_INT32))
    await gcs.expect("PARAM_VALUE", lambda m: m.param_id == "NAV_DLL_ACT")
    assert fleet.vehicles[0].params["NAV_DLL_ACT"] == 2
    gcs.send(gcs.mav.param_set_encode(1, 1, b"MIS_TAKEOFF_ALT", 7.5, mavlink.MAV_PARAM_TYPE_REAL32))
    answer = await gcs.expect("PARAM_VALUE", lambda m: m.param_id == "MIS_TAKEOFF_ALT")
    assert answer.param_value == 7.5
    gcs.send(gcs.mav.param_set_encode(1, 1, b"NO_SUCH_PARAM", 1.0, mavlink.MAV_PARAM_TYPE_REAL32))
    await until(
        lambda: _true(fleet.endpoints[0].param_service.rejected == 1), "the unknown set is refused"
    )


async def _true(value: bool) -> bool:
    return value


async def test_mission_fence_and_rally_upload_download_and_clear(
    link: tuple[SimFleet, Gcs],
) -> None:
    fleet, gcs = link
    v = fleet.vehicles[0]
    mission = [mission_item(i, i * 1e-4) for i in range(4)]
    assert await upload(gcs, mission) == mavlink.MAV_MISSION_ACCEPTED
    assert [i.x for i in v.mission] == [m.x for m in mission]
    current = await gcs.expect("MISSION_CURRENT")
    assert (current.seq, current.total) == (0, 4)
    fence = [mission_item(0, 0, frame=5, command=5003, kind=1)]
    assert await upload(gcs, fence, kind=1) == mavlink.MAV_MISSION_ACCEPTED
    rally = [mission_item(0, 1e-4, kind=2, command=5100)]
    assert await upload(gcs, rally, kind=2) == mavlink.MAV_MISSION_ACCEPTED
    assert (len(v.mission), len(v.fence), len(v.rally)) == (4, 1, 1)
    # download, the INT way and the legacy way
    gcs.clear()
    gcs.send(gcs.mav.mission_request_list_encode(1, 1, 0))
    assert (await gcs.expect("MISSION_COUNT")).count == 4
    gcs.send(gcs.mav.mission_request_int_encode(1, 1, 2, 0))
    item = await gcs.expect("MISSION_ITEM_INT")
    assert (item.seq, item.x) == (2, mission[2].x)
    gcs.send(gcs.mav.mission_request_encode(1, 1, 3, 0))
    legacy = await gcs.expect("MISSION_ITEM")
    assert legacy.x == pytest.approx(mission[3].x * 1e-7, abs=1e-5)  # float32 degrees
    gcs.send(gcs.mav.mission_request_int_encode(1, 1, 9, 0))
    ack = await gcs.expect("MISSION_ACK")
    assert ack.type == mavlink.MAV_MISSION_INVALID_SEQUENCE
    # set current, then clear
    gcs.send(gcs.mav.mission_set_current_encode(1, 1, 2))
    assert (await gcs.expect("MISSION_CURRENT", lambda m: m.seq == 2)).total == 4
    gcs.send(gcs.mav.mission_clear_all_encode(1, 1, 1))
    assert (await gcs.expect("MISSION_ACK")).type == mavlink.MAV_MISSION_ACCEPTED
    assert v.fence == [] and len(v.mission) == 4
    gcs.send(gcs.mav.mission_clear_all_encode(1, 1, 255))
    await gcs.expect("MISSION_ACK")
    assert (v.mission, v.rally) == ([], [])


async def test_legacy_mission_item_upload_is_accepted(link: tuple[SimFleet, Gcs]) -> None:
    fleet, gcs = link
    items = [
        mavlink.MAVLink_mission_item_message(
            1, 1, i, 3, 16, 0, 1, 0, 0, 0, 0, DEFAULT_HOME[0] + i * 1e-4, DEFAULT_HOME[1], 15, 0
        )
        for i in range(2)
    ]
    assert await upload(gcs, items) == mavlink.MAV_MISSION_ACCEPTED
    assert fleet.vehicles[0].mission[1].x == pytest.approx((DEFAULT_HOME[0] + 1e-4) * 1e7, abs=50)


async def test_bad_uploads_get_the_right_error_and_never_replace_the_mission(
    link: tuple[SimFleet, Gcs],
) -> None:
    fleet, gcs = link
    v = fleet.vehicles[0]
    good = [mission_item(0), mission_item(1, 1e-4)]
    assert await upload(gcs, good) == mavlink.MAV_MISSION_ACCEPTED
    # an absurd count
    gcs.clear()
    gcs.send(gcs.mav.mission_count_encode(1, 1, 65535, 0))
    assert (await gcs.expect("MISSION_ACK")).type == mavlink.MAV_MISSION_NO_SPACE
    # an unsupported frame (local NED)
    assert await upload(gcs, [mission_item(0, frame=1)]) == mavlink.MAV_MISSION_UNSUPPORTED_FRAME
    # out of sequence
    gcs.clear()
    gcs.send(gcs.mav.mission_count_encode(1, 1, 3, 0))
    await gcs.expect("MISSION_REQUEST_INT")
    gcs.send(mission_item(2))
    assert (await gcs.expect("MISSION_ACK")).type == mavlink.MAV_MISSION_INVALID_SEQUENCE
    # an unknown mission type
    gcs.send(gcs.mav.mission_count_encode(1, 1, 3, 7))
    assert (await gcs.expect("MISSION_ACK")).type == mavlink.MAV_MISSION_UNSUPPORTED
    # a legacy item whose latitude is not a number
    gcs.clear()
    gcs.send(gcs.mav.mission_count_encode(1, 1, 1, 0))
    await gcs.expect("MISSION_REQUEST_INT")
    nan = float("nan")
    gcs.send(gcs.mav.mission_item_encode(1, 1, 0, 3, 16, 0, 1, 0, 0, 0, 0, nan, 8.5, 10, 0))
    assert (await gcs.expect("MISSION_ACK")).type == mavlink.MAV_MISSION_INVALID_PARAM5_X
    # a second GCS cannot barge into an upload in progress
    gcs.clear()
    gcs.send(gcs.mav.mission_count_encode(1, 1, 2, 0))
    await gcs.expect("MISSION_REQUEST_INT")
    intruder = mavlink.MAVLink(None, 200, 190)
    gcs.raw(intruder.mission_count_encode(1, 1, 1, 0).pack(intruder))
    ack = await gcs.expect("MISSION_ACK")
    assert (ack.type, ack.target_system) == (mavlink.MAV_MISSION_DENIED, 200)
    gcs.send(gcs.mav.mission_clear_all_encode(1, 1, 0))  # abandons the upload
    await gcs.expect("MISSION_ACK")
    assert await upload(gcs, good) == mavlink.MAV_MISSION_ACCEPTED
    # a half-finished upload: the vehicle asks again, then gives up
    gcs.clear()
    gcs.send(gcs.mav.mission_count_encode(1, 1, 5, 0))
    await gcs.expect("MISSION_REQUEST_INT", lambda m: m.seq == 0)
    gcs.send(mission_item(0, 5e-4))
    for _ in range(ITEM_RETRIES + 1):
        await gcs.expect("MISSION_REQUEST_INT", lambda m: m.seq == 1, within=ITEM_TIMEOUT_S * 4)
    ack = await gcs.expect("MISSION_ACK", within=ITEM_TIMEOUT_S * 4)
    assert ack.type == mavlink.MAV_MISSION_OPERATION_CANCELLED
    assert [i.x for i in v.mission] == [m.x for m in good]
    assert fleet.endpoints[0].missions.rejected >= 5


async def test_commands_answer_px4_results(link: tuple[SimFleet, Gcs]) -> None:
    fleet, gcs = link
    nan = float("nan")

    said: list[Any] = []

    async def command(cmd: int, *params: float) -> int:
        """The command's result; what came before its ACK is kept in ``said``."""
        full = (list(params) + [nan] * 7)[:7]
        gcs.send(gcs.mav.command_long_encode(1, 1, cmd, 0, *full))
        ack = await gcs.expect("COMMAND_ACK", lambda m: m.command == cmd)
        said[:] = [m for m in gcs.consumed if m.get_type() == "STATUSTEXT"]
        result: int = ack.result
        return result

    assert await command(22) == mavlink.MAV_RESULT_TEMPORARILY_REJECTED  # takeoff disarmed
    assert await command(176, 1, 9, 0) == mavlink.MAV_RESULT_DENIED  # no such main mode
    assert await command(300) == mavlink.MAV_RESULT_DENIED  # mission start without a mission
    assert await command(31337) == mavlink.MAV_RESULT_UNSUPPORTED
    fleet.faults[0].set_rejected(frozenset({400}))
    assert await command(400, 1) == mavlink.MAV_RESULT_DENIED
    fleet.faults[0].set_rejected(None)
    assert await command(400, 1) == mavlink.MAV_RESULT_ACCEPTED
    assert await command(22) == mavlink.MAV_RESULT_ACCEPTED
    await until(lambda: _true(fleet.vehicles[0].rel_alt_m > 1), "the vehicle climbs")
    assert await command(400, 0) == mavlink.MAV_RESULT_DENIED  # disarm in the air
    (text,) = [m for m in said if "not landed" in m.text]  # the reason, before the ACK
    assert text.severity == mavlink.MAV_SEVERITY_CRITICAL
    assert await command(176, 1, 4, 5) == mavlink.MAV_RESULT_ACCEPTED  # AUTO.RTL
    heartbeat = await gcs.expect("HEARTBEAT", lambda m: m.custom_mode == (4 << 16) | (5 << 24))
    assert heartbeat.base_mode & mavlink.MAV_MODE_FLAG_SAFETY_ARMED
    gcs.send(
        gcs.mav.command_int_encode(
            1,
            1,
            6,
            192,
            0,
            0,
            -1,
            1,
            0,
            nan,
            round(DEFAULT_HOME[0] * 1e7) + 1000,
            round(DEFAULT_HOME[1] * 1e7),
            30,
        )
    )
    ack = await gcs.expect("COMMAND_ACK", lambda m: m.command == 192)
    assert ack.result == mavlink.MAV_RESULT_ACCEPTED
    assert fleet.vehicles[0].mode.name == "AUTO_LOITER"
    assert await command(400, 0, 21196) == mavlink.MAV_RESULT_ACCEPTED  # forced disarm


async def test_hostile_datagrams_are_counted_and_dropped(link: tuple[SimFleet, Gcs]) -> None:
    fleet, gcs = link
    stats = fleet.endpoints[0].stats
    good = gcs.mav.command_long_encode(1, 1, 512, 0, 148, 0, 0, 0, 0, 0, 0).pack(gcs.mav)
    for _ in range(50):
        gcs.raw(os.urandom(int.from_bytes(os.urandom(1), "big") + 1))
    gcs.raw(good[:-3])  # truncated
    gcs.raw(good[:-1] + bytes([good[-1] ^ 0xFF]))  # bad CRC
    gcs.raw(b"")
    gcs.raw(b"\xfd" + b"\xff" * 300)  # a header claiming more than it has
    other = gcs.mav.command_long_encode(7, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0)  # for system 7
    gcs.send(other)
    other_component = gcs.mav.command_long_encode(1, 100, 400, 0, 1, 0, 0, 0, 0, 0, 0)
    gcs.send(other_component)
    gcs.send(gcs.mav.command_long_encode(1, 1, 400, 0, float("inf"), float("nan"), 0, 0, 0, 0, 0))
    gcs.send(gcs.mav.param_request_read_encode(1, 1, b"\xff\xfe", -1))
    gcs.send(gcs.mav.param_request_read_encode(1, 1, b"", 30000))
    gcs.send(gcs.mav.mission_item_int_encode(1, 1, 40000, 6, 16, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0))
    await until(
        lambda: _true(stats.malformed >= 3 and stats.not_for_us == 2), "hostile input is counted"
    )
    assert not fleet.vehicles[0].armed
    assert stats.failed == 0
    gcs.clear()
    gcs.raw(good)  # still answering
    await gcs.expect("AUTOPILOT_VERSION")


async def test_link_faults_drop_traffic_both_ways(link: tuple[SimFleet, Gcs]) -> None:
    fleet, gcs = link
    faults = fleet.faults[0]
    faults.link_cut = True
    # Once the vehicle's own sends are being dropped, whatever it sent before the cut is
    # in our socket (loopback): clear it, and nothing more may come
    await until(lambda: _true(faults.dropped_out >= 1), "the cut link drops a stream")
    gcs.clear()
    gcs.send(gcs.mav.command_long_encode(1, 1, 400, 0, 1, 0, 0, 0, 0, 0, 0))
    await until(lambda: _true(faults.dropped_in == 1), "the cut link drops the command")
    await until(lambda: _true(faults.dropped_out > 3), "the cut link drops the streams")
    gcs.pump()
    assert gcs.inbox == []
    assert not fleet.vehicles[0].armed
    faults.link_cut = False
    faults.set_packet_loss(0.5)
    await gcs.expect("HEARTBEAT", within=10)
    before = faults.dropped
    await until(lambda: _true(faults.dropped > before + 5), "half the packets are lost")
    assert not fleet.vehicles[0].armed


async def test_absurd_numbers_are_refused_and_the_fleet_keeps_flying(
    link: tuple[SimFleet, Gcs],
) -> None:
    fleet, gcs = link
    nan, inf = float("nan"), float("inf")

    async def command(cmd: int, *params: float) -> int:
        full = (list(params) + [nan] * 7)[:7]
        gcs.send(gcs.mav.command_long_encode(1, 1, cmd, 0, *full))
        ack = await gcs.expect("COMMAND_ACK", lambda m: m.command == cmd)
        result: int = ack.result
        return result

    assert await command(400, 1) == mavlink.MAV_RESULT_ACCEPTED
    assert await command(22, nan, nan, nan, nan, nan, nan, 1e30) == mavlink.MAV_RESULT_DENIED
    assert await command(22, nan, nan, nan, nan, nan, nan, inf) == mavlink.MAV_RESULT_DENIED
    assert await command(22) == mavlink.MAV_RESULT_ACCEPTED
    await until(lambda: _true(fleet.vehicles[0].rel_alt_m > 1), "the vehicle climbs")
    assert await command(192, -1, 1, 0, nan, 1e30, 8.5, 500) == mavlink.MAV_RESULT_DENIED
    assert await command(179, 0, 0, 0, 0, 47.0, -inf, 500) == mavlink.MAV_RESULT_DENIED
    assert await command(178, 1, inf) == mavlink.MAV_RESULT_DENIED
    # a mission full of numbers no GCS should send
    too_high = mission_item(0)
    too_high.z = 1e30
    assert await upload(gcs, [too_high]) == mavlink.MAV_MISSION_INVALID_PARAM7
    weird = [
        mission_item(0, 1e-4),
        mavlink.MAVLink_mission_item_int_message(1, 1, 1, 2, 177, 0, 1, nan, inf, 0, 0, 0, 0, 0, 0),
        mavlink.MAVLink_mission_item_int_message(
            1, 1, 2, 6, 19, 0, 1, inf, nan, 0, 0, 0, 0, nan, 0
        ),
    ]
    assert await upload(gcs, weird) == mavlink.MAV_MISSION_ACCEPTED
    # a polygon vertex whose vertex count is not a number: PX4 counts none, too few
    fence = [mavlink.MAVLink_mission_item_int_message(1, 1, 0, 5, 5001, 0, 1, nan, 0, 0, 0,
                                                      470000000, 85000000, 0, 1)]  # fmt: skip
    assert await upload(gcs, fence, kind=1) == mavlink.MAV_MISSION_ERROR
    assert await command(300) == mavlink.MAV_RESULT_ACCEPTED
    steps = fleet.stats.steps
    await until(lambda: _true(fleet.stats.steps > steps + 100), "the simulation keeps stepping")
    gcs.clear()
    await gcs.expect("GLOBAL_POSITION_INT")
    assert fleet.endpoints[0].stats.failed == 0


def item_int(
    seq: int, frame: int, command: int, p1: float = 0.0, north_deg: float = 1e-4, kind: int = 0
) -> Any:
    """A MISSION_ITEM_INT at home + ``north_deg`` (x/y 0 in MAV_FRAME_MISSION)."""
    x = round((DEFAULT_HOME[0] + north_deg) * 1e7) if frame != 2 else 0
    y = round(DEFAULT_HOME[1] * 1e7) if frame != 2 else 0
    return mavlink.MAVLink_mission_item_int_message(
        1, 1, seq, frame, command, 0, 1, p1, 0, 0, 0, x, y, 20, kind
    )


REFUSED_AT_UPLOAD = [
    # frames PX4 does not take: terrain, local, and the _INT frames in a legacy MISSION_ITEM
    ("terrain frame 10", item_int(1, 10, 16), mavlink.MAV_MISSION_UNSUPPORTED_FRAME),
    ("terrain frame 11", item_int(1, 11, 16), mavlink.MAV_MISSION_UNSUPPORTED_FRAME),
    ("local NED", item_int(1, 1, 16), mavlink.MAV_MISSION_UNSUPPORTED_FRAME),
    ("frame 255", item_int(1, 255, 16), mavlink.MAV_MISSION_UNSUPPORTED_FRAME),
    (
        "frame 6 in MISSION_ITEM",
        mavlink.MAVLink_mission_item_message(
            1, 1, 1, 6, 16, 0, 1, 0, 0, 0, 0, DEFAULT_HOME[0], DEFAULT_HOME[1], 20, 0
        ),
        mavlink.MAV_MISSION_UNSUPPORTED_FRAME,
    ),
    # commands its parser does not know, in a position frame or in MAV_FRAME_MISSION
    ("LOITER_TURNS", item_int(1, 6, 18), mavlink.MAV_MISSION_UNSUPPORTED),
    ("SPLINE_WAYPOINT", item_int(1, 6, 82), mavlink.MAV_MISSION_UNSUPPORTED),
    ("PAYLOAD_PLACE", item_int(1, 6, 94), mavlink.MAV_MISSION_UNSUPPORTED),
    ("ARC_WAYPOINT", item_int(1, 6, 36), mavlink.MAV_MISSION_UNSUPPORTED),
    ("command 0", item_int(1, 6, 0), mavlink.MAV_MISSION_UNSUPPORTED),
    ("command 65535", item_int(1, 2, 65535), mavlink.MAV_MISSION_UNSUPPORTED),
    ("CONDITION_YAW", item_int(1, 2, 115), mavlink.MAV_MISSION_UNSUPPORTED),
    ("DO_AUX_FUNCTION", item_int(1, 2, 218), mavlink.MAV_MISSION_UNSUPPORTED),
    ("JUMP_TAG", item_int(1, 2, 600), mavlink.MAV_MISSION_UNSUPPORTED),
    ("a DO command with a position", item_int(1, 3, 178), mavlink.MAV_MISSION_UNSUPPORTED),
    ("a waypoint without one", item_int(1, 2, 16), mavlink.MAV_MISSION_UNSUPPORTED),
    ("ROI at a location, no position", item_int(1, 2, 201, p1=3),
     mavlink.MAV_MISSION_INVALID_PARAM1),
    ("ROI mode NaN", item_int(1, 6, 80, p1=float("nan")), mavlink.MAV_MISSION_INVALID_PARAM1),
    # fence and rally commands in a mission
    ("a fence vertex", item_int(1, 6, 5001, p1=4), mavlink.MAV_MISSION_ERROR),
    ("a rally point", item_int(1, 6, 5100), mavlink.MAV_MISSION_ERROR),
]  # fmt: skip


async def test_what_px4_does_not_store_is_refused_with_its_result_and_the_mission_stays(
    link: tuple[SimFleet, Gcs],
) -> None:
    fleet, gcs = link
    v = fleet.vehicles[0]
    good = [mission_item(0), mission_item(1, 1e-4)]
    assert await upload(gcs, good) == mavlink.MAV_MISSION_ACCEPTED
    parser_results = {
        mavlink.MAV_MISSION_UNSUPPORTED,
        mavlink.MAV_MISSION_UNSUPPORTED_FRAME,
        mavlink.MAV_MISSION_INVALID_PARAM1,
    }
    for name, bad, result in REFUSED_AT_UPLOAD:
        assert await upload(gcs, [item_int(0, 6, 22), bad]) == result, name
        assert [i.x for i in v.mission] == [m.x for m in good], f"{name} replaced the mission"
        if result in parser_results:  # PX4's parser says so; its fence/rally guard does not
            text = await gcs.expect("STATUSTEXT")
            assert (text.text, text.severity) == (
                "IGN MISSION_ITEM: Invalid item",
                mavlink.MAV_SEVERITY_CRITICAL,
            ), name
    # what PX4 does take: DO commands in MAV_FRAME_MISSION, ROI modes by frame
    taken = [
        item_int(0, 6, 22),
        item_int(1, 2, 178, p1=1),
        item_int(2, 2, 2000),
        item_int(3, 5, 80, p1=3),
        item_int(4, 2, 201, p1=1),
        item_int(5, 3, 31),
        item_int(6, 2, 20),
    ]
    assert await upload(gcs, taken) == mavlink.MAV_MISSION_ACCEPTED
    assert len(v.mission) == 7
    # a fence polygon needs three vertices at least
    gcs.clear()
    gcs.send(gcs.mav.mission_count_encode(1, 1, 2, 1))
    await gcs.expect("MISSION_REQUEST_INT")
    gcs.send(item_int(0, 5, 5001, p1=2, kind=1))
    assert (await gcs.expect("MISSION_ACK")).type == mavlink.MAV_MISSION_ERROR
    assert v.fence == []


async def statustext(gcs: Gcs, starting: str) -> tuple[str, int]:
    """The next STATUSTEXT starting so, its chunks (MAVLink 2 ``id``) joined."""
    first = await gcs.expect("STATUSTEXT", lambda m: m.text.startswith(starting))
    text = first.text
    while first.id and len(text) % 50 == 0:
        more = await gcs.expect("STATUSTEXT", lambda m: m.id == first.id)
        text += more.text
        if len(more.text) < 50:
            break
    return text, first.severity


async def test_an_infeasible_mission_is_named_and_cannot_start_and_the_mode_stays(
    link: tuple[SimFleet, Gcs],
) -> None:
    fleet, gcs = link
    nan = float("nan")

    async def command(cmd: int, *params: float) -> tuple[int, list[str]]:
        """The command's result and the texts that came before its ACK."""
        full = (list(params) + [nan] * 7)[:7]
        gcs.send(gcs.mav.command_long_encode(1, 1, cmd, 0, *full))
        ack = await gcs.expect("COMMAND_ACK", lambda m: m.command == cmd)
        texts = [m.text for m in gcs.consumed if m.get_type() == "STATUSTEXT"]
        return ack.result, texts

    # a landing is required (PARAM_SET, INT32 bytewise, as a GCS sets it)
    bits = struct.unpack("<f", struct.pack("<i", 2))[0]
    gcs.send(gcs.mav.param_set_encode(1, 1, b"MIS_TKO_LAND_REQ", bits, 6))
    await gcs.expect("PARAM_VALUE", lambda m: m.param_id == "MIS_TKO_LAND_REQ")
    no_landing = [item_int(0, 6, 22), item_int(1, 6, 16, north_deg=5e-4)]
    assert await upload(gcs, no_landing) == mavlink.MAV_MISSION_ACCEPTED  # stored...
    text, severity = await statustext(gcs, "Mission rejected")  # ...and refused
    assert text == "Mission rejected: Landing waypoint/pattern required."  # 52 bytes: 2 chunks
    assert severity == mavlink.MAV_SEVERITY_CRITICAL
    current = await gcs.expect("MISSION_CURRENT")
    assert (current.total, current.mission_state) == (2, mavlink.MISSION_STATE_NO_MISSION)
    loiter = (4 << 16) | (3 << 24)
    assert (await command(400, 1))[0] == mavlink.MAV_RESULT_ACCEPTED  # arming in hold: allowed
    assert await command(176, 1, 4, 4) == (  # AUTO.MISSION
        mavlink.MAV_RESULT_TEMPORARILY_REJECTED,
        ["Switching to Mission is currently not available"],
    )
    assert await command(300, 0, 0) == (  # MISSION_START
        mavlink.MAV_RESULT_DENIED,
        ["Mission start denied! No valid mission"],
    )
    gcs.clear()
    assert (await gcs.expect("HEARTBEAT")).custom_mode == loiter
    assert fleet.vehicles[0].landed_state.name == "ON_GROUND"
    # with a landing, the same vehicle takes it
    landing = [*no_landing, item_int(2, 6, 21, north_deg=5e-4)]
    assert await upload(gcs, landing) == mavlink.MAV_MISSION_ACCEPTED
    assert (await command(300, 0, 0))[0] == mavlink.MAV_RESULT_ACCEPTED
    mission = (4 << 16) | (4 << 24)
    await gcs.expect("HEARTBEAT", lambda m: m.custom_mode == mission)
