"""A whole fleet as separate processes: control plane, broker, edge agents.

Each piece runs the way an operator runs it (``gosd serve``, ``gosd agent``,
``mosquitto -c`` on what ``gosd mqtt config`` wrote), so tests can kill, stop and
restart any of them mid-job. Every process is stopped by its PID at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiomqtt
import httpx
import msgspec

from shared import agent_config
from shared.topics import CONTROL_PLANE_USERNAME
from tests.brokers import free_port, require_mosquitto
from tests.conftest import DEMO_USER, password_form
from tests.e2e.processes import gosd, gosd_env, json_of
from tests.support import stop_process, until

T = TypeVar("T")
BrokerKind = Literal["embedded", "mosquitto"]
HOST = "127.0.0.1"


class Fleet:
    """Processes of one test; ``close()`` stops what is still running."""

    def __init__(self, root: Path, database_url: str, broker: BrokerKind, **settings: str) -> None:
        self.root = root
        self.broker_kind = broker
        self.http_port = free_port()
        self.mqtt_port = free_port()
        self.base_url = f"http://{HOST}:{self.http_port}/gosd"
        self._cp_password = secrets.token_hex(12)
        extra = {
            "GOSD_DATABASE_URL": database_url,
            "GOSD_PUBLIC_URL": self.base_url,
            "GOSD_LOG_LEVEL": "INFO",
            **settings,
        }
        if broker == "embedded":
            extra["GOSD_MQTT_LISTEN"] = f"{HOST}:{self.mqtt_port}"
        else:
            extra["GOSD_MQTT_URL"] = (
                f"mqtt://gosd-control-plane:{self._cp_password}@{HOST}:{self.mqtt_port}"
            )
        self.env = gosd_env(root / "cp-data", **extra)
        self.control_plane: subprocess.Popen[bytes] | None = None
        self.mosquitto: subprocess.Popen[bytes] | None = None
        self.agents: dict[int, subprocess.Popen[bytes]] = {}
        self._logs: list[Path] = []
        self.http = httpx.AsyncClient(base_url=self.base_url, timeout=30)
        self.headers: dict[str, str] = {}

    # -- set-up ------------------------------------------------------------------

    def add_air_node(self, name: str) -> tuple[int, Path]:
        """``gosd nodes add --type air --agent-config``, as an operator makes a drone."""
        path = self.root / f"{name}.toml"
        created = json_of(
            gosd(
                "nodes",
                "add",
                name,
                "--type",
                "air",
                "--group",
                DEMO_USER,
                "--agent-config",
                str(path),
                "--json",
                env=self.env,
            )
        )
        return int(created["id"]), path

    def add_node(
        self, name: str, *, keepalive_s: int = 2, driver_kind: str = "fake", **driver: Any
    ) -> tuple[int, Path]:
        """``add_air_node``, then the test's driver and its settings."""
        node_id, path = self.add_air_node(name)
        config = agent_config.load(path, environ={})
        config = msgspec.structs.replace(
            config,
            broker=msgspec.structs.replace(config.broker, keepalive_s=keepalive_s),
            driver=agent_config.DriverSection.of(driver_kind, driver),
        )
        agent_config.write(config, path)
        return node_id, path

    # -- processes -----------------------------------------------------------------

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = self.root / f"{name}.log"
        self._logs.append(log)
        with log.open("ab") as out:
            out.write(f"--- start {time.strftime('%X')} ---\n".encode())
            out.flush()
            return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)

    def start_broker(self) -> None:
        """Mosquitto on the configuration ``gosd mqtt config`` writes (same port on restart)."""
        if self.broker_kind != "mosquitto":
            return
        binary = require_mosquitto()
        out = self.root / "mosquitto"
        gosd(
            "mqtt",
            "config",
            "--out",
            str(out),
            "--listen",
            f"{HOST}:{self.mqtt_port}",
            env=self.env,
        )
        conf = out / "mosquitto.conf"
        with conf.open("a", encoding="utf-8") as f:
            f.write("user root\n")  # tests run as root; the 0600 files are root's
        self.mosquitto = self._spawn("mosquitto", [str(binary), "-c", str(conf)], os.environ.copy())

    def stop_broker(self) -> None:
        if self.mosquitto is not None:
            stop_process(self.mosquitto)
            self.mosquitto = None

    async def start_control_plane(self) -> None:
        self.control_plane = self._spawn(
            "control-plane",
            [sys.executable, "-m", "gosd", "serve", "--port", str(self.http_port)],
            self.env,
        )
        await self.eventually(self._healthy, "the control plane answers", within=30)
        if not self.headers:
            r = await self.http.post(
                "/oauth/token",
                data=password_form(),
            )
            r.raise_for_status()
            self.headers = {"Authorization": "Bearer " + r.json()["access_token"]}

    def stop_control_plane(self) -> None:
        if self.control_plane is not None:
            stop_process(self.control_plane)
            self.control_plane = None

    def start_agent(self, node_id: int, config: Path, *args: str) -> subprocess.Popen[bytes]:
        """``gosd agent --config CONFIG ARGS...`` (no ``GOSD_*`` variables of the test's)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOSD_")}
        agent = self._spawn(
            f"agent-{node_id}",
            [sys.executable, "-m", "gosd", "agent", "--config", str(config), *args],
            env,
        )
        self.agents[node_id] = agent
        return agent

    def stop_agent(self, node_id: int, sig: signal.Signals = signal.SIGTERM) -> int | None:
        agent = self.agents.pop(node_id, None)
        if agent is None:
            return None
        return stop_process(agent, sig)

    async def close(self) -> None:
        for node_id in list(self.agents):
            self.stop_agent(node_id)
        self.stop_control_plane()
        self.stop_broker()
        await self.http.aclose()

    def logs(self) -> str:
        return "\n".join(
            f"=== {p.name}\n{p.read_text(errors='replace')[-6000:]}" for p in self._logs
        )

    # -- observing ---------------------------------------------------------------------

    async def get(self, path: str) -> Any:
        r = await self.http.get(path, headers=self.headers)
        assert r.status_code == 200, f"GET {path}: {r.status_code} {r.text}"
        return r.json()

    async def retained(self, topic: str) -> Any:
        """The retained message of a topic, read with the control plane's account.

        Only on Mosquitto: the embedded broker's account has a per-process password.
        """
        assert self.broker_kind == "mosquitto", "the embedded broker's password is the server's"
        async with aiomqtt.Client(
            HOST, self.mqtt_port, username=CONTROL_PLANE_USERNAME, password=self._cp_password
        ) as client:
            await client.subscribe(topic, qos=1)
            async with asyncio.timeout(10):
                message = await anext(aiter(client.messages))
        assert isinstance(message.payload, bytes)
        return json.loads(message.payload)

    async def node_state(self, node_id: int) -> str:
        return str((await self.get(f"/api/v2/nodes/{node_id}/status"))["state"])

    async def eventually(
        self, probe: Callable[[], Awaitable[T]], what: str, within: float = 20
    ) -> T:
        """``until``, failing with the processes' logs: they tell why it never came."""
        try:
            return await until(probe, what, within)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    async def wait_node(self, node_id: int, state: str, within: float = 20) -> float:
        """Wait until the node is in ``state``; answers how long it took."""
        start = time.monotonic()

        async def probe() -> bool:
            return await self.node_state(node_id) == state

        await self.eventually(probe, f"node {node_id} is {state}", within)
        return time.monotonic() - start

    async def wait_job(
        self,
        plan_id: int,
        job_id: int,
        done: Callable[[dict[str, Any]], bool],
        what: str,
        within: float = 30,
    ) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            job: dict[str, Any] = await self.get(f"/api/v2/plans/{plan_id}/jobs/{job_id}")
            return job if done(job) else None

        return await self.eventually(probe, what, within)

    async def _healthy(self) -> bool:
        if self.control_plane is not None and self.control_plane.poll() is not None:
            raise AssertionError(f"the control plane exited\n{self.logs()}")
        try:
            return (await self.http.get("/api/v2/ok")).status_code == 200
        except httpx.TransportError:
            return False
