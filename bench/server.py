"""A real ``gosd serve`` process on a throw-away data dir, for benchmarks."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

USER, PASSWORD, CLIENT, SECRET = "bench", "benchbench", "bench", "benchsecret"
LOGIN = {
    "grant_type": "password",
    "username": USER,
    "password": PASSWORD,
    "client_id": CLIENT,
    "client_secret": SECRET,
}
"""The token request of the benchmark's user (form fields)."""


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int
    env: dict[str, str]
    """The environment it runs with: ``gosd`` commands given it see the same database."""
    log_tail: deque[str] = field(default_factory=lambda: deque(maxlen=200))
    """The last lines the server logged (warnings and errors), for a report."""


def cli(*args: str, env: dict[str, str]) -> str:
    """Run one ``gosd`` command to completion; answers what it printed on stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "control_plane.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


@contextmanager
def gosd_server(extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    """Seed accounts with the CLI, serve, yield, then stop the process by its PID.

    ``extra_env`` adds ``GOSD_*`` settings (broker, data dir: one given there is kept
    for the caller, who may need the database after the server stopped).
    """
    with tempfile.TemporaryDirectory(prefix="gosd-bench-") as tmp:
        env = {**os.environ, "GOSD_DATA_DIR": tmp, "GOSD_LOG_LEVEL": "WARNING"}
        env.update(extra_env or {})
        if "GOSD_MQTT_URL" not in env and "GOSD_MQTT_LISTEN" not in env:
            # The embedded broker's default, 1883, may be taken (a system Mosquitto is):
            # the control plane would then fail to start.
            env["GOSD_MQTT_LISTEN"] = f"127.0.0.1:{free_port()}"
        cli("users", "add", USER, PASSWORD, "--admin", env=env)
        cli("clients", "add", CLIENT, "--secret", SECRET, env=env)
        proc = subprocess.Popen(
            [sys.executable, "-m", "control_plane.cli", "serve", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        tail: deque[str] = deque(maxlen=200)
        drain: threading.Thread | None = None
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"at (http://\S+)", line)
            if not match:
                raise RuntimeError(f"gosd serve did not start: {line}")
            # Keep reading what it logs: a full pipe would block the server mid-benchmark.
            drain = threading.Thread(target=_drain, args=(proc.stdout, tail), daemon=True)
            drain.start()
            yield Server(match.group(1), proc.pid, env, tail)
        finally:
            stop_process(proc, signal.SIGINT, within=20)
            if drain is not None:
                drain.join(timeout=5)  # it ends at EOF, once the server has exited
            if proc.stdout is not None:
                proc.stdout.close()


def free_port(host: str = "127.0.0.1", kind: int = socket.SOCK_STREAM) -> int:
    """A port nobody listens on right now (the OS's pick); ``socket.SOCK_DGRAM`` for UDP."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _drain(stream: IO[str], tail: deque[str]) -> None:
    for line in stream:
        tail.append(line.rstrip())


def peak_rss_bytes(pid: int) -> int:
    """VmHWM of a process: the most resident memory it has ever had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc status")


def rss_bytes(pid: int) -> int:
    """VmRSS of a process: its resident memory now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc status")


def stop_process(
    process: subprocess.Popen[Any], sig: int = signal.SIGTERM, within: float = 15
) -> None:
    """Signal a child by its PID and reap it; SIGKILL when it outlives ``within``."""
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
