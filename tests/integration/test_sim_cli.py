"""``gosd sim`` as a user runs it: a real process, its printed URLs, its control socket,
its fault client, hostile control input, bad arguments and a clean stop on a signal."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from pymavlink.dialects.v20 import common as mavlink

from tests.support import stop_process, until_sync

pytestmark = pytest.mark.integration


def free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def gosd(*args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gosd", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def sim() -> Iterator[tuple[subprocess.Popen[str], int, int, list[str]]]:
    """Two vehicles sending to a free UDP pair, with a control socket on a free port."""
    base = free_port(socket.SOCK_DGRAM)
    control = free_port(socket.SOCK_STREAM)
    with subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gosd",
            "sim",
            "--vehicles",
            "2",
            "--base-port",
            str(base),
            "--control",
            str(control),
            "--speedup",
            "5",
            "--home",
            "47.1,8.2,500",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        lines: list[str] = []
        try:
            assert process.stdout is not None
            while len(lines) < 3:
                line = process.stdout.readline()
                assert line, (
                    f"gosd sim ended early: {process.stderr.read() if process.stderr else ''}"
                )
                lines.append(line.strip())
            yield process, base, control, lines
        finally:
            stop_process(process)


def fault(control: int, *args: str) -> tuple[int, dict[str, object]]:
    done = gosd("sim", "fault", "--control", str(control), *args)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}


def test_prints_the_mavsdk_url_per_vehicle_and_sends_px4_heartbeats(
    sim: tuple[subprocess.Popen[str], int, int, list[str]],
) -> None:
    process, base, _, lines = sim
    assert lines[0].startswith(f"vehicle 0: udpin://0.0.0.0:{base} ")
    assert lines[1].startswith(f"vehicle 1: udpin://0.0.0.0:{base + 1} ")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", base + 1))
        s.settimeout(5)
        parser = mavlink.MAVLink(None)
        parser.robust_parsing = True
        heartbeat = None
        while heartbeat is None:
            data, _ = s.recvfrom(65535)
            for message in parser.parse_buffer(data) or []:
                if message.get_type() == "HEARTBEAT":
                    heartbeat = message
    assert heartbeat.autopilot == mavlink.MAV_AUTOPILOT_PX4
    assert stop_process(process, signal.SIGINT) == 0
    assert process.stdout is not None and "stopped" in process.stdout.read()


def test_fault_client_changes_and_reports_vehicle_state(
    sim: tuple[subprocess.Popen[str], int, int, list[str]],
) -> None:
    _, _, control, _ = sim
    code, answer = fault(control, "--vehicle", "1", "packet-loss", "0.3")
    assert code == 0 and answer["faults"] == {
        "packet_loss": 0.3,
        "link_cut": False,
        "gps_loss": False,
        "reject_commands": [],
        "dropped": answer["faults"]["dropped"],  # type: ignore[index]
    }
    assert fault(control, "--vehicle", "1", "gps-loss", "on")[0] == 0
    assert fault(control, "--vehicle", "1", "battery", "12")[0] == 0
    assert fault(control, "--vehicle", "1", "reject-commands", "400,22")[0] == 0
    assert fault(control, "--vehicle", "1", "link-cut", "on")[0] == 0
    code, status = fault(control, "--vehicle", "1", "status")
    state = status["state"]
    assert code == 0 and isinstance(state, dict)
    assert state["gps_fix_type"] == 0 and state["battery_pct"] == 12 and state["armed"] is False
    assert status["faults"]["reject_commands"] == [22, 400]  # type: ignore[index]
    _, other = fault(control, "--vehicle", "0", "status")
    assert other["state"]["gps_fix_type"] == 3  # type: ignore[index]
    assert other["state"]["lat_deg"] == pytest.approx(47.1)  # type: ignore[index]
    code, track = fault(control, "--vehicle", "0", "track")
    samples = track["track"]
    assert code == 0 and isinstance(samples, list) and samples, track
    assert track["fields"][:3] == ["sim_time_s", "mission_seq", "rel_alt_m"]  # type: ignore[index]
    code, later = fault(control, "--vehicle", "0", "track", str(samples[-1][0]))
    assert code == 0 and all(row[0] > samples[-1][0] for row in later["track"])  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "args",
    [
        ("--vehicle", "9", "status"),
        ("packet-loss", "1.5"),
        ("battery", "-3"),
        ("gps-loss", "maybe"),
        ("reject-commands", "400,abc"),
        ("track", "soon"),
    ],
)
def test_bad_fault_requests_are_refused_and_change_nothing(
    sim: tuple[subprocess.Popen[str], int, int, list[str]], args: tuple[str, ...]
) -> None:
    _, _, control, _ = sim
    code, answer = fault(control, *args)
    assert code != 0
    if answer:
        assert answer["ok"] is False and answer["error"]
    _, status = fault(control, "status")
    assert status["faults"] == {
        "packet_loss": 0.0,
        "link_cut": False,
        "gps_loss": False,
        "reject_commands": [],
        "dropped": 0,
    }


def test_hostile_control_input_gets_error_lines(
    sim: tuple[subprocess.Popen[str], int, int, list[str]],
) -> None:
    _, _, control, _ = sim

    async def talk() -> list[dict[str, object]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", control)
        answers = []
        for line in (
            b"not json\n",
            b"[1,2]\n",
            b'{"vehicle": true, "fault": "status"}\n',
            b'{"fault": "self-destruct"}\n',
            b"\xff\xfe\n",
            b'{"fault": "battery", "value": "1e999"}\n',
        ):
            writer.write(line)
            await writer.drain()
            answers.append(json.loads(await reader.readline()))
        writer.write(b"x" * 10_000 + b"\n")
        await writer.drain()
        answers.append(json.loads(await reader.readline()))
        writer.close()
        return answers

    answers = asyncio.run(talk())
    assert all(a["ok"] is False and a["error"] for a in answers), answers
    _, status = fault(control, "status")
    assert status["ok"] is True and status["state"]["battery_pct"] == 100  # type: ignore[index]


@pytest.mark.parametrize(
    "args",
    [
        ("--vehicles", "0"),
        ("--speedup", "0"),
        ("--speedup", "nan"),
        ("--home", "1,2"),
        ("--home", "91,0,0"),
        ("--base-port", "70000"),
        ("--vehicles", "x"),
        ("--base-port", "65535", "--vehicles", "2"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args: tuple[str, ...]) -> None:
    done = gosd("sim", *args)
    assert done.returncode == 2
    assert "gosd sim: error:" in done.stderr


def test_sigterm_stops_cleanly() -> None:
    base = free_port(socket.SOCK_DGRAM)
    with subprocess.Popen(
        [sys.executable, "-m", "gosd", "sim", "--base-port", str(base)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            until_sync(process.stdout.readline, "the simulator prints its URL")
        finally:
            code = stop_process(process, signal.SIGTERM)
        assert code == 0
        assert process.stderr is not None and "Traceback" not in process.stderr.read()


def test_a_port_in_use_is_reported_not_a_traceback() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        done = gosd("sim", "--base-port", str(free_port(socket.SOCK_DGRAM)),
                    "--local-base-port", str(port))  # fmt: skip
    assert done.returncode == 1
    assert "in use" in done.stderr and "Traceback" not in done.stderr


def test_an_unresolvable_target_host_is_reported() -> None:
    done = gosd("sim", "--target-host", "no-such-host.invalid", "--base-port", "30000")
    assert done.returncode == 1
    assert "gosd sim:" in done.stderr and "Traceback" not in done.stderr
