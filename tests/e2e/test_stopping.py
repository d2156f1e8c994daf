"""``gosd serve`` and ``gosd demo`` stop cleanly on SIGINT and on SIGTERM alike: exit 0,
no child process left, the demo's data folder removed, every port they held free again.

They run as real processes, as an operator (or systemd, or a CI timeout) runs them; their
children are found through psutil.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from control_plane.server import GRACEFUL_STOP_S
from tests.brokers import free_port
from tests.conftest import CLIENT_ID, CLIENT_SECRET, DEMO_PASSWORD, DEMO_USER, password_form
from tests.e2e.processes import gosd, gosd_env
from tests.support import stop_process, until_sync

pytestmark = pytest.mark.integration

STOP_SIGNALS = [signal.SIGINT, signal.SIGTERM]
DEMO_CHILDREN = 5
"""``gosd sim`` and the agents of the demo's four nodes."""

_URL = re.compile(r"control plane at (http://\S+/gosd)")
_DATA_DIR = re.compile(r"\(data in (\S+)\)")


@dataclass
class Running:
    process: subprocess.Popen[bytes]
    output: Path
    base_url: str

    def text(self) -> str:
        return self.output.read_text(errors="replace")


@contextlib.contextmanager
def started(tmp_path: Path, *args: str, env: dict[str, str]) -> Iterator[Running]:
    """``gosd <args>`` with its output (and its children's) in a file; yields once it
    printed its URL. Whatever the test leaves running is stopped by its PID."""
    output = tmp_path / f"{args[0]}.log"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "control_plane.cli", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:

        def url() -> str | None:
            match = _URL.search(output.read_text(errors="replace"))
            assert process.poll() is None, "gosd exited:\n" + output.read_text(errors="replace")
            return match.group(1) if match else None

        yield Running(process, output, until_sync(url, "gosd serves", within=60))
    finally:
        stop_process(process, within=30)


def login(http: httpx.Client) -> dict[str, str]:
    r = http.post(
        "/oauth/token",
        data=password_form(),
    )
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def gone(pid: int) -> bool:
    """The process has ended (a zombie waiting for its new parent counts as ended)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


Address = tuple[int, str, int]
"""(socket type, host, port) of a socket a process holds open for others to reach."""


def held_addresses(pids: list[int]) -> set[Address]:
    """The TCP ports the processes listen on and the UDP ports they have bound."""
    held: set[Address] = set()
    for pid in pids:
        for conn in psutil.Process(pid).net_connections(kind="inet4"):
            if conn.type == socket.SOCK_DGRAM or conn.status == psutil.CONN_LISTEN:
                held.add((conn.type, conn.laddr.ip, conn.laddr.port))
    return held


def holders(address: Address) -> set[int]:
    """PIDs of the processes holding the address (listening on it, for TCP)."""
    kind, host, port = address
    return {
        conn.pid
        for conn in psutil.net_connections(kind="inet4")
        if conn.pid is not None
        and conn.type == kind
        and conn.laddr
        and conn.laddr.port == port
        and conn.laddr.ip in (host, "0.0.0.0")
        and (kind == socket.SOCK_DGRAM or conn.status == psutil.CONN_LISTEN)
    }


def still_held(held: set[Address], started_at: float, stopped_at: float, run: Path) -> list[str]:
    """The addresses still held by a process of the run: one that lived in the window of
    the run and names the run's folder on its command line (every agent does, by its
    config file; the simulator and the server itself are checked by PID).

    On a shared machine another process may take a freed port (the simulator's 14540 by
    another demo running in parallel, an ephemeral port) after the stop: a process that
    began before the run or after the stop signal, or belongs to another run, is not a
    leftover of this one.
    """
    leftovers = []
    for address in held:
        for pid in holders(address):
            with contextlib.suppress(psutil.NoSuchProcess):
                process = psutil.Process(pid)
                ours = any(str(run) in arg for arg in process.cmdline())
                if ours and started_at <= process.create_time() <= stopped_at:
                    leftovers.append(f"{address} by {pid} {process.cmdline()}")
    return leftovers


def kill_leftovers(pids: list[int]) -> None:
    """SIGKILL, by PID, the children a failed stop left behind (so a red test leaks none)."""
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            if not gone(pid):
                psutil.Process(pid).kill()


def demo_children(running: Running) -> list[int]:
    """The demo's simulator and agents, once all of its nodes are online."""

    def spawned() -> list[psutil.Process] | None:
        children = psutil.Process(running.process.pid).children()
        return children if len(children) == DEMO_CHILDREN else None

    children = until_sync(spawned, "the demo starts its simulator and agents", within=30)
    with httpx.Client(base_url=running.base_url, timeout=10) as http:
        auth = login(http)

        def all_online() -> bool:
            nodes = http.get("/api/v2/nodes/", headers=auth).json()
            return len(nodes) == DEMO_CHILDREN - 1 and all(
                n["status"]["state"] == "online" for n in nodes
            )

        until_sync(all_online, "every demo node is online", within=60)
    return [child.pid for child in children]


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_the_demo_stops_everything_it_started(tmp_path: Path, sig: signal.Signals) -> None:
    env = gosd_env(tmp_path / "unused")
    with started(tmp_path, "demo", "--port", "0", env=env) as demo:
        match = _DATA_DIR.search(demo.text())
        assert match, demo.text()
        data_dir = Path(match.group(1))
        assert data_dir.is_dir()
        started_at = psutil.Process(demo.process.pid).create_time()
        children = demo_children(demo)
        try:
            held = held_addresses([demo.process.pid, *children])
            assert {port for kind, _, port in held if kind == socket.SOCK_STREAM} >= {
                int(demo.base_url.split(":")[2].split("/")[0])
            }, "the HTTP port is among those checked"

            stopped_at = time.time()
            demo.process.send_signal(sig)
            assert demo.process.wait(timeout=30) == 0, demo.text()[-3000:]
            alive = [pid for pid in children if not gone(pid)]
            assert alive == [], f"children still running: {alive}"
            assert not data_dir.exists(), "the demo's data folder is left behind"
            assert still_held(held, started_at, stopped_at, data_dir) == []
            assert "Traceback" not in demo.text()
        finally:
            kill_leftovers(children)
            shutil.rmtree(data_dir, ignore_errors=True)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_demos_children_die_with_it_when_it_is_killed(tmp_path: Path) -> None:
    env = gosd_env(tmp_path / "unused")
    with started(tmp_path, "demo", "--port", "0", env=env) as demo:
        match = _DATA_DIR.search(demo.text())
        assert match, demo.text()
        children = demo_children(demo)
        try:
            demo.process.send_signal(signal.SIGKILL)
            demo.process.wait(timeout=10)

            def all_gone() -> bool:
                return all(gone(pid) for pid in children)

            until_sync(all_gone, "the children follow their killed parent", within=20)
        finally:
            kill_leftovers(children)
            shutil.rmtree(match.group(1), ignore_errors=True)  # SIGKILL leaves it


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_serve_stops_with_a_live_stream_open(tmp_path: Path, sig: signal.Signals) -> None:
    """A client following a node's stream does not hold the stop up past the grace time;
    the embedded broker stops with the server."""
    broker_port = free_port()
    env = gosd_env(tmp_path, GOSD_MQTT_LISTEN=f"127.0.0.1:{broker_port}")
    gosd("users", "add", DEMO_USER, DEMO_PASSWORD, env=env)
    gosd("clients", "add", CLIENT_ID, "--secret", CLIENT_SECRET, env=env)
    gosd("nodes", "add", "d1", "--type", "air", "--group", DEMO_USER, env=env)
    with (
        started(tmp_path, "serve", "--port", "0", env=env) as server,
        httpx.Client(base_url=server.base_url, timeout=30) as http,
    ):
        auth = login(http)
        # the broker is a thread of the server: its exit closes the broker's port too
        held = held_addresses([server.process.pid])
        assert (socket.SOCK_STREAM, "127.0.0.1", broker_port) in held
        with http.stream("GET", "/api/v2/nodes/1/stream", headers=auth) as stream:
            first = next(stream.iter_lines())
            assert first.startswith("event:"), first
            stopping = time.monotonic()
            server.process.send_signal(sig)
            assert server.process.wait(timeout=GRACEFUL_STOP_S + 15) == 0, server.text()
        took = time.monotonic() - stopping
        assert took < GRACEFUL_STOP_S + 5, f"stopped after {took:.1f} s"
