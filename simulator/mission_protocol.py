"""The MAVLink mission protocol (missions, geofence, rally points) on the vehicle side.

The vehicle drives an upload: it answers MISSION_COUNT by requesting each item in turn,
re-requests on a wall-clock timeout, and swaps the staged list in only at the final
MISSION_ACK, so a half-finished or hostile upload never replaces what the vehicle flies.
Downloads answer MISSION_REQUEST_INT with MISSION_ITEM_INT and the legacy
MISSION_REQUEST with MISSION_ITEM (degrees as floats). Items PX4 would not store (a
command or frame its parser does not know, ``item_acceptance.py``) end the upload with
PX4's result and its "IGN MISSION_ITEM: Invalid item" text.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pymavlink.dialects.v20 import common as mavlink

from simulator.item_acceptance import upload_result
from simulator.mission_items import MAX_ALT_M, MISSION_FRAME, MissionItem, MissionType
from simulator.vehicle import Severity, Vehicle

MAX_ITEMS = {MissionType.MISSION: 5000, MissionType.FENCE: 256, MissionType.RALLY: 64}
"""Beyond these counts an upload is answered MAV_MISSION_NO_SPACE."""
ITEM_TIMEOUT_S = 0.5
"""Wall seconds to wait for an item before requesting it again."""
ITEM_RETRIES = 5
"""Re-requests of one item before the upload is abandoned (OPERATION_CANCELLED)."""
PX4_PARSE_FAILURES = frozenset(
    {
        mavlink.MAV_MISSION_UNSUPPORTED,
        mavlink.MAV_MISSION_UNSUPPORTED_FRAME,
        mavlink.MAV_MISSION_INVALID_PARAM1,
    }
)
"""Results PX4's item parser gives; it says "IGN MISSION_ITEM: Invalid item" with them."""

Send = Callable[[Any], None]
"""Sends one pymavlink message to the GCS."""


@dataclass(slots=True)
class _Upload:
    mission_type: MissionType
    count: int
    partner: tuple[int, int]
    items: list[MissionItem] = field(default_factory=list)
    last_activity_s: float = 0.0
    retries: int = 0


class MissionProtocol:
    """Mission transfers for one vehicle."""

    def __init__(
        self, vehicle: Vehicle, mav: mavlink.MAVLink, send: Send, now: Callable[[], float]
    ) -> None:
        self.vehicle = vehicle
        self.mav = mav
        self.send = send
        self.now = now
        self.upload: _Upload | None = None
        self.rejected = 0
        """Transfers answered with an error result."""

    def _items_of(self, mission_type: MissionType) -> list[MissionItem]:
        v = self.vehicle
        return {
            MissionType.MISSION: v.mission,
            MissionType.FENCE: v.fence,
            MissionType.RALLY: v.rally,
        }[mission_type]

    def _ack(self, partner: tuple[int, int], result: int, mission_type: int) -> None:
        if result != mavlink.MAV_MISSION_ACCEPTED:
            self.rejected += 1
        self.send(self.mav.mission_ack_encode(partner[0], partner[1], result, mission_type))

    def _request(self, upload: _Upload) -> None:
        seq = len(upload.items)
        upload.last_activity_s = self.now()
        self.send(
            self.mav.mission_request_int_encode(
                upload.partner[0], upload.partner[1], seq, upload.mission_type
            )
        )

    def handle(self, msg: Any) -> bool:
        """Handle a mission-protocol message; False when it is not one."""
        kind = msg.get_type()
        partner = (msg.get_srcSystem(), msg.get_srcComponent())
        if kind in (
            "MISSION_ITEM_INT",
            "MISSION_ITEM",
            "MISSION_COUNT",
            "MISSION_REQUEST_LIST",
            "MISSION_REQUEST_INT",
            "MISSION_REQUEST",
            "MISSION_CLEAR_ALL",
            "MISSION_ACK",
        ):
            raw_type = getattr(msg, "mission_type", 0)
            if raw_type == mavlink.MAV_MISSION_TYPE_ALL and kind == "MISSION_CLEAR_ALL":
                for t in MissionType:
                    self.vehicle.replace_items(t, [])
                self._ack(partner, mavlink.MAV_MISSION_ACCEPTED, raw_type)
                return True
            if raw_type not in (0, 1, 2):
                self._ack(partner, mavlink.MAV_MISSION_UNSUPPORTED, raw_type)
                return True
            mission_type = MissionType(raw_type)
        if kind == "MISSION_COUNT":
            self._on_count(msg, partner, mission_type)
        elif kind in ("MISSION_ITEM_INT", "MISSION_ITEM"):
            self._on_item(msg, partner, mission_type, legacy=kind == "MISSION_ITEM")
        elif kind == "MISSION_REQUEST_LIST":
            count = len(self._items_of(mission_type))
            self.send(self.mav.mission_count_encode(partner[0], partner[1], count, mission_type))
        elif kind in ("MISSION_REQUEST_INT", "MISSION_REQUEST"):
            self._on_request(msg, partner, mission_type, legacy=kind == "MISSION_REQUEST")
        elif kind == "MISSION_CLEAR_ALL":
            if self.upload and self.upload.mission_type is mission_type:
                self.upload = None
            self.vehicle.replace_items(mission_type, [])
            self._ack(partner, mavlink.MAV_MISSION_ACCEPTED, mission_type)
        elif kind == "MISSION_ACK":
            pass  # the end of a download (or a GCS cancelling one): nothing to undo
        elif kind == "MISSION_SET_CURRENT":
            if self.vehicle.set_mission_current(msg.seq):
                self.send_current()
            else:
                self.vehicle.text("Mission set current: invalid item")
                self.send_current()
        else:
            return False
        return True

    def _on_count(self, msg: Any, partner: tuple[int, int], mission_type: MissionType) -> None:
        if self.upload is not None and self.upload.partner != partner:
            self._ack(partner, mavlink.MAV_MISSION_DENIED, mission_type)  # busy with another GCS
            return
        count = int(msg.count)
        if count > MAX_ITEMS[mission_type]:
            self._ack(partner, mavlink.MAV_MISSION_NO_SPACE, mission_type)
            return
        if count == 0:
            self.upload = None
            self.vehicle.replace_items(mission_type, [])
            self._ack(partner, mavlink.MAV_MISSION_ACCEPTED, mission_type)
            return
        self.upload = _Upload(mission_type, count, partner)
        self._request(self.upload)

    def _on_item(
        self, msg: Any, partner: tuple[int, int], mission_type: MissionType, legacy: bool
    ) -> None:
        upload = self.upload
        if upload is None or upload.partner != partner or upload.mission_type is not mission_type:
            self._ack(partner, mavlink.MAV_MISSION_INVALID_SEQUENCE, mission_type)
            return
        expected = len(upload.items)
        if msg.seq < expected:
            self._request(upload)  # a duplicate: ask again for what we need
            return
        if msg.seq > expected:
            self.upload = None
            self._ack(partner, mavlink.MAV_MISSION_INVALID_SEQUENCE, mission_type)
            return
        item, error = _item_from(msg, legacy, mission_type)
        if error is not None or item is None:
            self.upload = None
            if error in PX4_PARSE_FAILURES:
                self.vehicle.text("IGN MISSION_ITEM: Invalid item", Severity.CRITICAL)
            self._ack(
                partner, error if error is not None else mavlink.MAV_MISSION_ERROR, mission_type
            )
            return
        upload.items.append(item)
        upload.retries = 0
        if len(upload.items) < upload.count:
            self._request(upload)
            return
        self.upload = None
        self.vehicle.replace_items(mission_type, upload.items)
        self._ack(partner, mavlink.MAV_MISSION_ACCEPTED, mission_type)
        if mission_type is MissionType.MISSION:
            self.send_current()

    def _on_request(
        self, msg: Any, partner: tuple[int, int], mission_type: MissionType, legacy: bool
    ) -> None:
        items = self._items_of(mission_type)
        if not 0 <= msg.seq < len(items):
            self._ack(partner, mavlink.MAV_MISSION_INVALID_SEQUENCE, mission_type)
            return
        it = items[msg.seq]
        current = (
            1 if mission_type is MissionType.MISSION and msg.seq == self.vehicle.mission_seq else 0
        )
        # MISSION_ITEM (legacy) carries degrees as floats, MISSION_ITEM_INT degrees * 1e7
        encode = self.mav.mission_item_encode if legacy else self.mav.mission_item_int_encode
        scale = 1e-7 if legacy else 1
        self.send(
            encode(
                partner[0],
                partner[1],
                it.seq,
                it.frame,
                it.command,
                current,
                it.autocontinue,
                it.param1,
                it.param2,
                it.param3,
                it.param4,
                it.x * scale,
                it.y * scale,
                it.z,
                mission_type,
            )
        )

    def send_current(self) -> None:
        v = self.vehicle
        self.send(
            self.mav.mission_current_encode(v.mission_seq, len(v.mission), v.mission_state, 0)
        )

    def tick(self) -> None:
        """Re-request an overdue item, or give the upload up."""
        upload = self.upload
        if upload is None or self.now() - upload.last_activity_s < ITEM_TIMEOUT_S:
            return
        if upload.retries >= ITEM_RETRIES:
            self.upload = None
            self._ack(upload.partner, mavlink.MAV_MISSION_OPERATION_CANCELLED, upload.mission_type)
            return
        upload.retries += 1
        self._request(upload)


def _item_from(
    msg: Any, legacy: bool, mission_type: MissionType
) -> tuple[MissionItem | None, int | None]:
    """A validated item, or the MAV_MISSION_RESULT saying what is wrong with it: PX4's
    answer first (``item_acceptance.py``), then the simulator's own guards against
    numbers no vehicle could fly (PX4 stores those and fails later)."""
    frame, command, param1 = int(msg.frame), int(msg.command), float(msg.param1)
    result = upload_result(frame, command, param1, legacy=legacy, mission_type=mission_type)
    if result != mavlink.MAV_MISSION_ACCEPTED:
        return None, result
    if legacy:
        if not (math.isfinite(msg.x) and math.isfinite(msg.y)):
            return None, mavlink.MAV_MISSION_INVALID_PARAM5_X
        x, y = round(msg.x * 1e7), round(msg.y * 1e7)
    else:
        x, y = int(msg.x), int(msg.y)
    if msg.frame != MISSION_FRAME and not (-900_000_000 <= x <= 900_000_000):
        return None, mavlink.MAV_MISSION_INVALID_PARAM5_X
    if msg.frame != MISSION_FRAME and not (-1_800_000_000 <= y <= 1_800_000_000):
        return None, mavlink.MAV_MISSION_INVALID_PARAM6_Y
    if math.isinf(msg.z) or abs(msg.z) > MAX_ALT_M:  # NaN is allowed: "keep the altitude"
        return None, mavlink.MAV_MISSION_INVALID_PARAM7
    item = MissionItem(
        seq=int(msg.seq),
        frame=int(msg.frame),
        command=int(msg.command),
        current=int(msg.current),
        autocontinue=int(msg.autocontinue),
        param1=float(msg.param1),
        param2=float(msg.param2),
        param3=float(msg.param3),
        param4=float(msg.param4),
        x=x,
        y=y,
        z=float(msg.z),
        mission_type=int(mission_type),
    )
    return item, None
