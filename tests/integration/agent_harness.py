"""Real infrastructure for the edge agent's tests: Mosquitto, the agent, a control plane.

- ``Mosquitto``: the system's ``/usr/sbin/mosquitto`` with a tiny anonymous config on a
  free port (never 1883), ready once the port accepts connections.
- ``AgentProcess``: the real agent as a subprocess (``python -m gosd agent --config``).
- ``ControlPlane``: the test's side of the wire through aiomqtt: it records everything
  under ``nodes/{id}/`` and waits for messages with deadlines (never sleeps).
- ``wpl_mission``: a QGC WPL 110 mission written for the test (takeoff, waypoints
  around the simulator's home), and ``free_udp_port`` for MAVSDK's listening port.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import msgspec

from shared import agent_config, codec, topics
from shared.agent_config import (
    AgentConfig,
    AgentSection,
    BrokerSection,
    ControlPlaneSection,
    DriverSection,
    NodeSection,
)
from tests.brokers import free_port
from tests.conftest import unavailable
from tests.support import stop_process, until_sync

MOSQUITTO = os.environ.get("GOSD_TEST_MOSQUITTO", "/usr/sbin/mosquitto")
REPO = Path(__file__).resolve().parents[2]


def wait_for_port(port: int, deadline_s: float, process: subprocess.Popen[bytes]) -> None:
    def listening() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"the process exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
        except OSError:
            return False
        return True

    until_sync(listening, f"something listens on port {port}", deadline_s)


@dataclass
class Mosquitto:
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


@contextlib.contextmanager
def run_mosquitto(
    tmp: Path, port: int | None = None, *, extra_config: str = ""
) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).is_file() and shutil.which("mosquitto") is None:
        unavailable(f"Mosquitto is not installed at {MOSQUITTO}", "broker")
    binary = MOSQUITTO if Path(MOSQUITTO).is_file() else str(shutil.which("mosquitto"))
    tmp.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = tmp / "mosquitto.conf"
    if "allow_anonymous" not in extra_config:
        extra_config = "allow_anonymous true\n" + extra_config
    conf.write_text(f"listener {port} 127.0.0.1\nuser root\n{extra_config}")
    log = tmp / "mosquitto.log"
    with log.open("wb") as out:
        process = subprocess.Popen([binary, "-c", str(conf)], stdout=out, stderr=out)
    try:
        wait_for_port(port, 10.0, process)
        yield Mosquitto(port, process, log)
    finally:
        stop_process(process)


def make_config(
    tmp: Path,
    broker_url: str,
    *,
    node_id: int = 7,
    keepalive_s: int = 2,
    control_plane_url: str = "http://127.0.0.1:9/gosd",
    settings: dict[str, Any] | None = None,
    driver: str = "fake",
) -> Path:
    config = AgentConfig(
        node=NodeSection(id=node_id, secret="node-secret-" + str(node_id)),
        broker=BrokerSection(url=broker_url, keepalive_s=keepalive_s),
        control_plane=ControlPlaneSection(url=control_plane_url),
        agent=AgentSection(data_dir=str(tmp / "agent-data"), telemetry_hz=5.0),
        driver=DriverSection.of(driver, settings or {}),
    )
    path = tmp / "agent.toml"
    agent_config.write(config, path)
    return path


@dataclass
class AgentProcess:
    """The real agent in a subprocess; its stderr goes to ``log``."""

    config: Path
    log: Path
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0

    def start(self, *extra: str) -> None:
        assert self.process is None or self.process.poll() is not None
        self.runs += 1
        with self.log.open("ab") as out:
            out.write(f"--- run {self.runs}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gosd",
                    "agent",
                    "--config",
                    str(self.config),
                    "--log-level",
                    "DEBUG",
                    *extra,
                ],
                stdout=out,
                stderr=out,
                cwd=REPO,
            )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.process is not None
        return stop_process(self.process, sig)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, fragment: str, timeout_s: float = 10.0) -> None:
        """Poll the agent's log (with a deadline) until ``fragment`` shows up."""
        until_sync(lambda: fragment in self.text(), f"the agent logs {fragment!r}", timeout_s)


@contextlib.contextmanager
def run_agent(config: Path, *extra: str) -> Iterator[AgentProcess]:
    agent = AgentProcess(config, config.parent / "agent.log")
    agent.start(*extra)
    try:
        yield agent
    finally:
        if agent.process is not None:
            agent.stop(signal.SIGKILL)
        sys.stderr.write(agent.text()[-5000:])  # shown by pytest when a test fails


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> Any:
        return msgspec.json.decode(self.payload)


@dataclass
class ControlPlane:
    """The test acting as the control plane on the broker."""

    client: aiomqtt.Client
    node_id: int
    seen: list[Received] = field(default_factory=list)

    async def wait(
        self,
        topic: str,
        predicate: Callable[[Any], bool] = lambda _: True,
        *,
        since: int = 0,
        timeout_s: float = 10.0,
    ) -> Any:
        """The decoded payload of the first message on ``topic`` (from ``since``) that fits."""
        index = since
        deadline = time.monotonic() + timeout_s
        while True:
            while index < len(self.seen):
                message = self.seen[index]
                index += 1
                if message.topic == topic and predicate(message.json()):
                    return message.json()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = [(m.topic, m.payload[:120]) for m in self.seen[-15:]]
                raise AssertionError(f"no fitting message on {topic} in {timeout_s} s: {recent}")
            try:
                message = await self._next(remaining)
            except TimeoutError:
                continue
            self.seen.append(message)

    async def _next(self, timeout_s: float) -> Received:
        async with asyncio.timeout(timeout_s):
            async for m in self.client.messages:
                payload = m.payload if isinstance(m.payload, bytes) else str(m.payload).encode()
                return Received(str(m.topic), payload, bool(m.retain))
        raise AssertionError("the message stream ended")

    def all(self, topic: str, since: int = 0) -> list[Any]:
        return [m.json() for m in self.seen[since:] if m.topic == topic]

    async def drain(self, timeout_s: float = 0.3) -> None:
        """Record what arrives within ``timeout_s`` (to check that something does NOT come)."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                self.seen.append(await self._next(remaining))
            except TimeoutError:
                return

    async def send(self, topic: str, payload: bytes) -> None:
        await self.client.publish(topic, payload, qos=1)

    async def request(
        self, method: str, params: dict[str, Any] | None = None, request_id: str | None = None
    ) -> str:
        request_id = request_id or uuid.uuid4().hex
        body = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}}
        await self.send(topics.rpc_send(self.node_id), codec.encode(body))
        return request_id

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout_s: float = 10.0
    ) -> Any:
        """Send a request and answer its response (``result`` or ``error`` inside)."""
        since = len(self.seen)
        request_id = await self.request(method, params)
        return await self.wait(
            topics.rpc_recv(self.node_id),
            lambda r: isinstance(r, dict) and r.get("id") == request_id,
            since=since,
            timeout_s=timeout_s,
        )

    async def ack(self, stream: str, seq: int, *, replay: bool = False) -> None:
        body = {"stream": stream, "seq": seq, "replay": replay}
        await self.send(topics.events_ack(self.node_id), codec.encode(body))


@contextlib.asynccontextmanager
async def control_plane(
    broker: Mosquitto, node_id: int = 7, *, username: str | None = None, password: str | None = None
) -> AsyncIterator[ControlPlane]:
    async with aiomqtt.Client(
        "127.0.0.1",
        broker.port,
        identifier=f"test-cp-{uuid.uuid4().hex[:8]}",
        username=username,
        password=password,
    ) as client:
        client.pending_calls_threshold = 100
        await client.subscribe(f"nodes/{node_id}/#", qos=1)
        yield ControlPlane(client, node_id)


class BlobServer:
    """A stand-in for the control plane's HTTP side: OAuth token endpoint and blobs.

    It checks what the real one checks: the ``client_credentials`` form of the node, and
    the bearer token on every blob download.
    """

    def __init__(self, client_id: str, client_secret: str) -> None:
        import http.server
        import secrets
        import threading

        self.blobs: dict[str, bytes] = {}
        self.token = secrets.token_hex(32)
        self.token_requests = 0
        self.downloads: list[str] = []
        self.refused = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                from urllib.parse import parse_qs

                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                ok = (
                    self.path == "/gosd/oauth/token"
                    and form.get("grant_type") == ["client_credentials"]
                    and form.get("client_id") == [client_id]
                    and form.get("client_secret") == [client_secret]
                )
                server.token_requests += 1
                if not ok:
                    self._send(401, b'{"error": "invalid_client"}')
                    return
                body = {"access_token": server.token, "token_type": "Bearer", "expires_in": 3600}
                self._send(200, codec.encode(body))

            def do_GET(self) -> None:
                prefix = "/gosd/api/v2/blobs/"
                if self.headers.get("Authorization") != f"Bearer {server.token}":
                    server.refused += 1
                    self._send(401, b'{"error": "invalid_token"}')
                    return
                blob_id = self.path.removeprefix(prefix)
                if not self.path.startswith(prefix) or blob_id not in server.blobs:
                    self._send(404, b'{"error_message": "no such blob"}')
                    return
                server.downloads.append(blob_id)
                self._send(200, server.blobs[blob_id], "application/octet-stream")

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/gosd"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> BlobServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)

    def add(self, blob_id: str, content: bytes) -> dict[str, Any]:
        """Store a blob; answers its ``FileRef`` as a job carries it."""
        import hashlib

        self.blobs[blob_id] = content
        digest = hashlib.sha256(content).hexdigest()
        return {"blob_id": blob_id, "sha256": digest, "size": len(content), "filename": "f"}


def secured_broker_config(tmp: Path, accounts: dict[str, str], node_ids: list[int]) -> str:
    """Mosquitto settings with passwords and the node ACL of DESIGN §7."""
    tmp.mkdir(parents=True, exist_ok=True)
    passwd = tmp / "passwd"
    passwd.touch()
    for user, password in accounts.items():
        subprocess.run(
            ["mosquitto_passwd", "-b", str(passwd), user, password], check=True, timeout=10
        )
    acl = [f"user {topics.CONTROL_PLANE_USERNAME}", "topic readwrite #", ""]
    for node_id in node_ids:
        acl.append(f"user {topics.node_username(node_id)}")
        acl += [f"topic write nodes/{node_id}/{kind}" for kind in ("status", "rpc/recv")]
        acl += [f"topic write nodes/{node_id}/{kind}" for kind in ("msg/+", "network", "events")]
        acl += [f"topic read nodes/{node_id}/{kind}" for kind in ("rpc/send", "events/ack")]
        acl.append("")
    (tmp / "acl").write_text("\n".join(acl))
    return f"allow_anonymous false\npassword_file {passwd}\nacl_file {tmp / 'acl'}\n"


SIM_HOME = (47.397742, 8.545594, 488.0)
"""The simulator's default home (PX4 SITL's), degrees and metres AMSL."""


def free_udp_port() -> int:
    """A UDP port nothing listens on now (MAVSDK binds it with ``udpin://``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wpl_mission(
    waypoints: int = 3,
    *,
    spacing_m: float = 40.0,
    height_m: float = 15.0,
    rtl: bool = False,
    home: tuple[float, float] = SIM_HOME[:2],
) -> bytes:
    """A QGC WPL 110 file: row 0 the home (as every WPL writer puts it; in a relative
    frame, so its height above sea is left to the vehicle), then a takeoff at ``home``,
    ``waypoints`` going east ``spacing_m`` apart (relative altitude), and an RTL item when
    ``rtl``. Mission items are numbered from 0 (the home is not one)."""
    lat0, lon0 = home
    metres_per_deg_lon = 111_320.0 * math.cos(math.radians(lat0))
    rows = [(22, lat0, lon0)]
    rows += [(16, lat0, lon0 + (i + 1) * spacing_m / metres_per_deg_lon) for i in range(waypoints)]
    if rtl:
        rows.append((20, 0.0, 0.0))
    lines = ["QGC WPL 110", f"0\t0\t3\t16\t0\t0\t0\t0\t{lat0:.7f}\t{lon0:.7f}\t0\t1"]
    for row, (command, lat, lon) in enumerate(rows, 1):
        frame = 2 if command == 20 else 3
        height = 0.0 if command == 20 else height_m
        current = 1 if row == 1 else 0
        lines.append(
            f"{row}\t{current}\t{frame}\t{command}\t0\t0\t0\t0\t{lat:.7f}\t{lon:.7f}\t{height}\t1"
        )
    return ("\n".join(lines) + "\n").encode()
