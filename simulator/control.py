"""The fault-injection control socket: JSON lines over TCP on 127.0.0.1.

One request per line, one answer per line. A request names a vehicle and a fault:
``{"vehicle": 0, "fault": "packet-loss", "value": 0.3}``; ``fault`` is one of
``packet-loss`` (0..1), ``link-cut`` / ``gps-loss`` (``"on"``/``"off"``), ``battery``
(percent), ``reject-commands`` (``"400,22"``, ``"all"`` or ``"none"``), ``status``, or
``track`` (the flight log's samples after the simulated time ``value``, default all: see
``simulator.flight_log``).
A request naming a dock instead (``{"dock": 0, "fault": "rain", "value": 2}``) takes one
of ``simulator.depot.FAULTS``; its answer carries the dock's registers and faults.
The answer is ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``; a bad request
changes nothing. It binds to loopback only: anyone who can reach it can crash a drone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from typing import Any

from simulator import depot, flight_log
from simulator.fleet import SimFleet

MAX_LINE_BYTES = 4096
"""Longer request lines are refused (and the connection closed)."""
ANSWER_LIMIT_BYTES = 4 * 1024 * 1024
"""Longest answer line a client reads."""
FAULTS = (
    "packet-loss",
    "link-cut",
    "gps-loss",
    "battery",
    "reject-commands",
    "status",
    "track",
)


class ControlError(ValueError):
    """A request that cannot be applied; its message goes back to the client."""


def _on_off(value: object) -> bool:
    if value in ("on", True):
        return True
    if value in ("off", False):
        return False
    raise ControlError("value must be on or off")


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ControlError("value must be a number")
    try:
        return float(value)
    except ValueError:
        raise ControlError("value must be a number") from None


def parse_commands(value: object) -> tuple[frozenset[int] | None, bool]:
    """``"400,22"`` / ``"all"`` / ``"none"`` as (ids, reject_all)."""
    if not isinstance(value, str):
        raise ControlError("reject-commands takes a comma-separated list, all or none")
    if value == "none":
        return None, False
    if value == "all":
        return None, True
    try:
        ids = frozenset(int(part) for part in value.split(","))
    except ValueError:
        raise ControlError("reject-commands takes a comma-separated list, all or none") from None
    if not ids or any(not 0 <= i <= 65535 for i in ids):
        raise ControlError("command ids are 0..65535")
    return ids, False


def apply(fleet: SimFleet, request: object) -> dict[str, Any]:
    """Apply one decoded request; the answer (raises ControlError on a bad one)."""
    if not isinstance(request, dict):
        raise ControlError("a request is a JSON object")
    if "dock" in request:
        return _apply_dock(fleet, request)
    index = request.get("vehicle", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < fleet.count:
        raise ControlError(f"vehicle must be 0..{fleet.count - 1}")
    fault = request.get("fault")
    if fault not in FAULTS:
        raise ControlError(f"fault must be one of {', '.join(FAULTS)}")
    faults = fleet.faults[index]
    value = request.get("value")
    try:
        if fault == "packet-loss":
            faults.set_packet_loss(_number(value))
        elif fault == "link-cut":
            faults.link_cut = _on_off(value)
        elif fault == "gps-loss":
            faults.set_gps_loss(_on_off(value))
        elif fault == "battery":
            faults.set_battery(_number(value))
        elif fault == "reject-commands":
            ids, reject_all = parse_commands(value)
            faults.set_rejected(ids, reject_all)
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    answer: dict[str, Any] = {"ok": True, "vehicle": index, "faults": faults.describe()}
    if fault == "track":
        since = -math.inf if value is None else _number(value)
        answer["fields"] = list(flight_log.FIELDS)
        answer["track"] = fleet.logs[index].since(since)
    if fault == "status":
        answer["state"] = fleet.vehicles[index].snapshot()
        if index < len(fleet.endpoints):
            answer["link"] = vars(fleet.endpoints[index].stats)
    return answer


def _apply_dock(fleet: SimFleet, request: dict[str, Any]) -> dict[str, Any]:
    index = request["dock"]
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(fleet.docks):
        raise ControlError(f"dock must be 0..{len(fleet.docks) - 1} (the fleet has "
                           f"{len(fleet.docks)} docks)")  # fmt: skip
    fault = request.get("fault")
    if fault not in depot.FAULTS:
        raise ControlError(f"dock fault must be one of {', '.join(depot.FAULTS)}")
    model = fleet.docks[index]
    try:
        model.apply_fault(fault, request.get("value"))
    except ValueError as exc:
        raise ControlError(str(exc)) from None
    return {"ok": True, "dock": index, "state": model.snapshot()}


async def serve(fleet: SimFleet, port: int, host: str = "127.0.0.1") -> asyncio.Server:
    """Start the control server (the caller closes it)."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # longer than the stream limit
                    writer.write(b'{"ok": false, "error": "request line too long"}\n')
                    break
                if not line:
                    break
                try:
                    answer = apply(fleet, json.loads(line))
                except (ControlError, json.JSONDecodeError, UnicodeDecodeError) as exc:
                    answer = {"ok": False, "error": str(exc)[:200]}
                writer.write(json.dumps(answer).encode() + b"\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    return await asyncio.start_server(client, host, port, limit=MAX_LINE_BYTES)


async def request(port: int, message: dict[str, Any], host: str = "127.0.0.1") -> dict[str, Any]:
    """Send one request to a control server and return its answer."""
    # A track answer is one long line (up to flight_log.MAX_ANSWER samples).
    reader, writer = await asyncio.open_connection(host, port, limit=ANSWER_LIMIT_BYTES)
    try:
        writer.write(json.dumps(message).encode() + b"\n")
        await writer.drain()
        async with asyncio.timeout(5):
            line = await reader.readline()
        answer: dict[str, Any] = json.loads(line)
        return answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
