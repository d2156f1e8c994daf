"""Real MQTT brokers for tests: the embedded one, and Mosquitto on the generated config.

Both come up on a free port of 127.0.0.1 (never 1883, where a system broker may run) and
answer a ``RunningBroker``. Mosquitto runs as a child process on the files
``gosd mqtt config`` writes, plus ``user root``: run as root, it would otherwise drop to
user ``mosquitto`` and fail to read the 0600 password and ACL files. Where
``/usr/sbin/mosquitto`` is missing its tests are skipped, except under CI (``CI=true``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import NamedTuple

import pytest

from control_plane.messaging.broker_login import broker_login
from control_plane.messaging.embedded_broker import EmbeddedBroker
from control_plane.messaging.mosquitto_config import write_mosquitto_config
from tests.conftest import unavailable
from tests.support import until

MOSQUITTO = Path(os.environ.get("GOSD_TEST_MOSQUITTO", "/usr/sbin/mosquitto"))
HOST = "127.0.0.1"
START_TIMEOUT_S = 10.0


class RunningBroker(NamedTuple):
    host: str
    port: int
    control_plane_password: str


def require_mosquitto() -> Path:
    """The Mosquitto binary; skips the test where there is none (fails under CI)."""
    if os.access(MOSQUITTO, os.X_OK):
        return MOSQUITTO
    unavailable(f"Mosquitto is not installed at {MOSQUITTO}", "Mosquitto")


_GIVEN: set[int] = set()
"""Ports ``free_port`` handed out in this process: two picks made before either is
listening (a broker's and a server's) must differ, and the OS may offer one twice."""


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the OS's pick, so never 1883), and none this
    process was given before."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


async def wait_until_listening(
    host: str, port: int, process: asyncio.subprocess.Process, log: Path
) -> None:
    """Poll until ``host:port`` accepts a connection; fail if the process dies first."""

    async def listening() -> bool:
        if process.returncode is not None:
            pytest.fail(f"mosquitto exited with {process.returncode}:\n{_read(log)}")
        try:
            _, writer = await asyncio.open_connection(host, port)
        except OSError:
            return False
        writer.close()
        await writer.wait_closed()
        return True

    try:
        await until(listening, f"mosquitto listens on {host}:{port}", START_TIMEOUT_S)
    except AssertionError as exc:
        pytest.fail(f"{exc}:\n{_read(log)}")


def _read(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace") if log.exists() else "(no log)"


def _add_test_settings(conf: Path) -> Path:
    """What only tests add to a generated config: ``user root`` and a log file."""
    log = conf.with_name("mosquitto.log")
    with conf.open("a", encoding="utf-8") as f:
        f.write(f"# tests only\nuser root\nlog_dest file {log}\n")
    return log


@contextlib.asynccontextmanager
async def mosquitto(
    out_dir: Path, nodes: Sequence[tuple[int, str]]
) -> AsyncIterator[RunningBroker]:
    """Mosquitto on the generated config for ``nodes`` (node id, stored secret hash)."""
    require_mosquitto()
    password = secrets.token_hex(16)
    port = free_port()
    conf, *_ = write_mosquitto_config(
        out_dir, listen=(HOST, port), control_plane_password=password, nodes=nodes
    )
    async with mosquitto_on(conf, port, password) as running:
        yield running


@contextlib.asynccontextmanager
async def mosquitto_on(conf: Path, port: int, password: str) -> AsyncIterator[RunningBroker]:
    """Mosquitto on a config ``gosd mqtt config`` wrote, listening on ``HOST:port``."""
    binary = require_mosquitto()
    log = _add_test_settings(conf)
    process = await asyncio.create_subprocess_exec(
        str(binary),
        "-c",
        str(conf),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        await wait_until_listening(HOST, port, process, log)
        yield RunningBroker(HOST, port, password)
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGTERM)
        try:
            async with asyncio.timeout(5):
                await process.wait()
        except TimeoutError:
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()


@contextlib.asynccontextmanager
async def embedded() -> AsyncIterator[RunningBroker]:
    """The embedded broker, checking node secrets in the database already open."""
    password = secrets.token_hex(16)
    broker = EmbeddedBroker(HOST, 0, broker_login(password))
    await broker.start()
    try:
        host, port = broker.address
        yield RunningBroker(host, port, password)
    finally:
        await broker.stop()
