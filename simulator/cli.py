"""``gosd sim``: simulated PX4 vehicles on the PX4 SITL port convention.

``gosd sim --vehicles N`` runs the fleet until SIGINT/SIGTERM and prints, per vehicle,
the MAVSDK URL to connect with. ``--cameras`` gives each vehicle a synthetic H.264
camera served as HTTP MPEG-TS (``http://127.0.0.1:PORT/cameras/I.ts``, PORT from
``--camera-port``), with its capture time drawn on the picture and stamped in the
stream. ``--docks N`` adds simulated docks (Modbus TCP servers, one per dock, their
addresses printed), vehicle i standing in dock i unless ``--dock-vehicles`` says
otherwise. ``gosd sim fault --control PORT ...`` is the client of the fault-injection
socket a fleet opens with ``--control PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import signal
import sys
from collections.abc import Sequence

from simulator import control, depot
from simulator.camera import CameraSettings
from simulator.fleet import DEFAULT_HOME, SimFleet


def _home(text: str) -> tuple[float, float, float]:
    try:
        lat, lon, alt = (float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            "home is LAT,LON,ALT (degrees, degrees, metres AMSL)"
        ) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and math.isfinite(alt)):
        raise argparse.ArgumentTypeError("home latitude must be -90..90, longitude -180..180")
    return lat, lon, alt


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError("must be a positive number")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("ports are 1..65535")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("vehicles must be 1..1000")
    return value


def _dock_vehicles(text: str) -> dict[int, int]:
    if text == "none":
        return {}
    try:
        pairs = [part.split("=", 1) for part in text.split(",")]
        return {int(d): int(v) for d, v in pairs}
    except ValueError:
        raise argparse.ArgumentTypeError(
            "dock vehicles are DOCK=VEHICLE pairs, comma-separated (0=0,1=2), or none"
        ) from None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["fault"]:
        return fault_main(args[1:])
    parser = argparse.ArgumentParser(prog="gosd sim", description=__doc__)
    parser.add_argument("--vehicles", type=_count, default=1, help="how many vehicles (default 1)")
    parser.add_argument(
        "--speedup", type=_positive, default=1.0, help="simulated seconds per wall second"
    )
    parser.add_argument("--home", type=_home, default=DEFAULT_HOME, help="LAT,LON,ALT of vehicle 0")
    parser.add_argument("--base-port", type=_port, default=14540, help="vehicle i sends to base+i")
    parser.add_argument("--target-host", default="127.0.0.1", help="where MAVSDK listens")
    parser.add_argument(
        "--local-base-port",
        type=_port,
        default=None,
        help="bind vehicle i to this+i (default: any free port)",
    )
    parser.add_argument(
        "--control",
        type=_port,
        default=None,
        help="open the JSON-lines fault control socket on 127.0.0.1:PORT",
    )
    parser.add_argument(
        "--cameras",
        action="store_true",
        help="give each vehicle a synthetic H.264 camera (HTTP MPEG-TS; URLs printed)",
    )
    parser.add_argument(
        "--camera-port",
        type=_port,
        default=None,
        help="serve the cameras on 127.0.0.1:PORT (default: any free port)",
    )
    parser.add_argument(
        "--camera-size", default="640x360", help="camera picture WxH (default 640x360)"
    )
    parser.add_argument("--camera-fps", type=int, default=15, help="camera frame rate (default 15)")
    parser.add_argument(
        "--camera-kbps", type=int, default=800, help="camera bitrate, kbit/s (default 800)"
    )
    parser.add_argument(
        "--docks", type=int, default=0, choices=range(0, 101), metavar="N",
        help="simulated docks (Modbus TCP), default 0",
    )  # fmt: skip
    parser.add_argument(
        "--dock-port", type=_port, default=5020, help="dock i listens on 127.0.0.1:PORT+i"
    )
    parser.add_argument(
        "--dock-vehicles",
        type=_dock_vehicles,
        default=None,
        help="which vehicle stands in which dock: DOCK=VEHICLE,... or none "
        "(default: dock i holds vehicle i)",
    )
    parsed = parser.parse_args(args)
    cameras: CameraSettings | None = None
    if parsed.cameras:
        try:
            width, height = (int(n) for n in parsed.camera_size.lower().split("x"))
            cameras = CameraSettings(width, height, parsed.camera_fps, parsed.camera_kbps)
        except ValueError as exc:
            parser.error(f"camera: {exc}")
    elif parsed.camera_port is not None:
        parser.error("--camera-port needs --cameras")
    if parsed.base_port + parsed.vehicles - 1 > 65535:
        parser.error("--base-port + --vehicles exceeds 65535")
    try:
        fleet = SimFleet(
            parsed.vehicles,
            base_port=parsed.base_port,
            target_host=parsed.target_host,
            speedup=parsed.speedup,
            home=parsed.home,
            local_base_port=parsed.local_base_port or 0,
            cameras=cameras,
            camera_port=parsed.camera_port or 0,
            docks=parsed.docks,
            dock_base_port=parsed.dock_port if parsed.docks else 0,
            dock_vehicles=parsed.dock_vehicles,
        )
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        asyncio.run(_serve(fleet, parsed.control))
    except OSError as exc:
        print(f"gosd sim: {exc}", file=sys.stderr)
        return 1
    return 0


async def _serve(fleet: SimFleet, control_port: int | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with fleet:
        server = await control.serve(fleet, control_port) if control_port else None
        for i, endpoint in enumerate(fleet.endpoints):
            print(
                f"vehicle {i}: {fleet.url(i)}  (sends from 127.0.0.1:{endpoint.local_port} "
                f"to {fleet.target_host}:{fleet.base_port + i})",
                flush=True,
            )
        if fleet.camera_server is not None:
            for i in range(fleet.count):
                print(f"camera {i}: {fleet.camera_url(i)}", flush=True)
        for d in range(len(fleet.docks)):
            host, port = fleet.dock_address(d)
            vehicle = fleet.dock_vehicles.get(d)
            holds = f"vehicle {vehicle} on its pad" if vehicle is not None else "empty pad"
            print(f"dock {d}: modbus-tcp://{host}:{port} unit 1  ({holds})", flush=True)
        if control_port:
            print(
                f"control: 127.0.0.1:{control_port} (gosd sim fault --control {control_port} ...)",
                flush=True,
            )
        try:
            await stop.wait()
        finally:
            if server is not None:
                server.close()
                await server.wait_closed()
    print("gosd sim: stopped", flush=True)


def fault_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="gosd sim fault", description="Inject a fault into a running gosd sim (see --control)."
    )
    parser.add_argument("--control", type=_port, required=True, help="the fleet's control port")
    parser.add_argument("--vehicle", type=int, default=0, help="vehicle index (default 0)")
    parser.add_argument(
        "--dock", type=int, default=None, help=f"a dock's index instead: {', '.join(depot.FAULTS)}"
    )
    parser.add_argument("fault", choices=sorted(set(control.FAULTS) | set(depot.FAULTS)))
    parser.add_argument(
        "value",
        nargs="?",
        help="0..1 | on/off | percent | ids,all,none | track: since SIM_TIME_S | "
        "dock: on/off, rain 0..3, wind m/s, register ADDRESS=RAW",
    )
    parsed = parser.parse_args(argv)
    if parsed.dock is not None:
        if parsed.fault not in depot.FAULTS:
            parser.error(f"a dock takes {', '.join(depot.FAULTS)}")
        if parsed.fault != "status" and parsed.value is None:
            parser.error(f"{parsed.fault} needs a value")
        return _send(parsed.control, {"dock": parsed.dock, "fault": parsed.fault,
                                      "value": parsed.value})  # fmt: skip
    if parsed.fault not in control.FAULTS:
        parser.error(f"a vehicle takes {', '.join(control.FAULTS)}")
    if parsed.fault not in ("status", "track") and parsed.value is None:
        parser.error(f"{parsed.fault} needs a value")
    value: object = parsed.value
    if parsed.fault in ("packet-loss", "battery") or (parsed.fault == "track" and value):
        try:
            value = float(parsed.value)
        except ValueError:
            parser.error(f"{parsed.fault} takes a number")
    message = {"vehicle": parsed.vehicle, "fault": parsed.fault, "value": value}
    return _send(parsed.control, message)


def _send(control_port: int, message: dict[str, object]) -> int:
    try:
        answer = asyncio.run(control.request(control_port, message))
    except (OSError, TimeoutError) as exc:
        print(f"gosd sim fault: cannot reach 127.0.0.1:{control_port}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0 if answer.get("ok") else 1
