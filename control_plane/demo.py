"""``gosd demo``: a control plane with the seed's demo accounts on a throw-away data dir."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec

from control_plane.db.lifecycle import open_database
from control_plane.server import bind, serve_on
from control_plane.services import accounts, agent_setup, nodes
from control_plane.services.agent_setup import broker_url_for_agents
from control_plane.services.nodes import NodeWrite, PointType, PointWrite
from control_plane.services.principal import Principal
from control_plane.settings import Settings, listen_address
from shared import agent_config
from shared.enums import NodeType

DEFAULT_LISTEN = Settings().mqtt_listen
USER, PASSWORD = "demo", "demodemo"
CLIENT_ID, CLIENT_SECRET = "000000", "999999"


DEMO_DRIVER = {"steps": 20, "step_s": 1.0}
"""The demo's simulated jobs take 20 s: long enough to watch, cancel or stop one."""


async def seed(settings: Settings) -> list[tuple[int, str]]:
    """The seed's example world: a user, a client, a drone with a video point, a depot.

    Answers the nodes' ids and secrets, for their agents."""
    async with open_database(settings.effective_database_url):
        user = await accounts.add_user(USER, PASSWORD, is_admin=True)
        await accounts.add_client(CLIENT_ID, CLIENT_SECRET)
        admin = Principal(kind="user", id=user.id, group_id=user.group.id, name=USER, is_admin=True)
        drone = await nodes.create_node(
            admin,
            NodeWrite(
                name="Drone",
                description="A Test Drone",
                type_name=NodeType.AIR,
                points=[PointWrite(name="aa", point_type_name=PointType.LIVESTREAM_FLV)],
            ),
        )
        depot = await nodes.create_node(
            admin,
            NodeWrite(
                name="Depot",
                description="A Test Depot",
                type_name=NodeType.DEPOT,
            ),
        )
    return [(drone.id, drone.secret), (depot.id, depot.secret)]


def walkthrough(base_url: str) -> str:
    """The seed's curl sequence against this demo, ready to paste into a shell."""
    auth = '-H "Authorization: Bearer $TOKEN"'
    return f"""\
# Paste into a shell (needs curl and python3):
B={base_url}
curl $B/api/v2/ok
TOKEN=$(curl -s $B/oauth/token -F grant_type=password -F username={USER} \\
  -F password={PASSWORD} -F client_id={CLIENT_ID} -F client_secret={CLIENT_SECRET} \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl $B/api/v1/nodes/ {auth}
echo 'hello drone' > /tmp/gosd-demo.txt
curl -X POST -F c1=@/tmp/gosd-demo.txt $B/api/v2/blobs/ {auth}
curl -X POST $B/api/v2/plans/ {auth} -H 'content-type: application/json' \\
  -d '{{"name":"233","description":"test","node_id":1,"files":{{"file":"1"}},"extra":{{"key1":"value1"}}}}'
curl $B/api/v2/plans/ {auth}
curl -X POST $B/api/v2/plans/1/jobs/ {auth}
curl $B/api/v2/plans/1/jobs/ {auth}
curl $B/api/v2/plans/1/jobs/1/events {auth}   # run again to watch it progress
curl $B/api/v2/nodes/1/status {auth}
curl -N $B/api/v2/nodes/1/stream {auth}        # live status and telemetry; Ctrl-C ends it
curl -X POST $B/api/v2/plans/1/jobs/ {auth}
curl -X POST $B/api/v2/plans/1/jobs/cancel {auth}
# API document: $B/schema/swagger (interactive page), $B/schema/openapi.json
"""


def run_demo(settings: Settings, *, host: str, port: int) -> int:
    """Seed a temporary data dir, serve with an agent per node until Ctrl-C, clean up.

    The embedded broker takes any free port unless ``GOSD_MQTT_LISTEN`` names one, so
    the demo runs beside a broker that already holds 1883.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="gosd-demo-"))
    demo_settings = settings.with_changes(data_dir=data_dir, database_url="")
    mqtt_host, mqtt_port = listen_address(settings.mqtt_listen, "GOSD_MQTT_LISTEN")
    if not settings.mqtt_url and (mqtt_port == 0 or settings.mqtt_listen == DEFAULT_LISTEN):
        # Agents need the real port in their configs, so pick it here.
        demo_settings = demo_settings.with_changes(mqtt_listen=f"{mqtt_host}:{free_port()}")
    agents: list[subprocess.Popen[bytes]] = []
    try:
        node_secrets = asyncio.run(seed(demo_settings))
        sock = bind(host, port)
        base_url = f"http://{host}:{sock.getsockname()[1]}{settings.base_path}"
        demo_settings = demo_settings.with_changes(public_url=base_url)
        for node_id, secret in node_secrets:
            agents.append(_start_agent(demo_settings, node_id, secret))
        print(walkthrough(base_url), flush=True)
        print(
            f"gosd demo: control plane at {base_url}, broker at "
            f"{broker_url_for_agents(demo_settings)}, agents for nodes "
            f"{', '.join(str(n) for n, _ in node_secrets)} (data in {data_dir}); Ctrl-C stops it",
            flush=True,
        )
        asyncio.run(serve_on(demo_settings, sock))
    finally:
        for agent in agents:
            agent.terminate()
        for agent in agents:
            try:
                agent.wait(timeout=10)
            except subprocess.TimeoutExpired:
                agent.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def _start_agent(settings: Settings, node_id: int, secret: str) -> subprocess.Popen[bytes]:
    """An edge agent with the fake driver, as its own process (as on a real node)."""
    config = agent_setup.agent_config(settings, node_id, secret)
    config = msgspec.structs.replace(
        config, driver=msgspec.structs.replace(config.driver, settings=DEMO_DRIVER)
    )
    path = settings.data_dir / f"agent-{node_id}.toml"
    agent_config.write(config, path)
    return subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "gosd", "agent", "--config", str(path)],
        stdin=subprocess.DEVNULL,
    )


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
