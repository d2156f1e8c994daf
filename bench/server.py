"""A real ``gosd serve`` process on a throw-away data dir, for benchmarks."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

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


def _cli(*args: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "control_plane.cli", *args], env=env, check=True, capture_output=True
    )


@contextmanager
def gosd_server() -> Iterator[Server]:
    """Seed accounts with the CLI, serve, yield, then stop the process by its PID."""
    with tempfile.TemporaryDirectory(prefix="gosd-bench-") as data_dir:
        env = {**os.environ, "GOSD_DATA_DIR": data_dir, "GOSD_LOG_LEVEL": "WARNING"}
        _cli("users", "add", USER, PASSWORD, "--admin", env=env)
        _cli("clients", "add", CLIENT, "--secret", SECRET, env=env)
        proc = subprocess.Popen(
            [sys.executable, "-m", "control_plane.cli", "serve", "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.search(r"at (http://\S+)", line)
            if not match:
                raise RuntimeError(f"gosd serve did not start: {line}")
            yield Server(match.group(1), proc.pid)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


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
