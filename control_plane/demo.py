"""``gosd demo``: a control plane with the seed's demo accounts on a throw-away data dir."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import msgspec

from control_plane.child_processes import ChildProcesses
from control_plane.db.lifecycle import open_database
from control_plane.demo_mission import HOME, sample_plan
from control_plane.server import bind, serve_on
from control_plane.services import accounts, agent_setup, nodes, plans
from control_plane.services.agent_setup import PX4_SITL_API_PORT, broker_url_for_agents
from control_plane.services.blob_store import BlobStore
from control_plane.services.blobs import BlobService
from control_plane.services.live_video import LiveTokens
from control_plane.services.nodes import NodeWrite, PointType, PointWrite
from control_plane.services.plans import PlanWrite
from control_plane.services.principal import Principal
from control_plane.settings import Settings, listen_address
from control_plane.stopping import stop_ignored, stop_raises
from shared import agent_config
from shared.enums import NodeType
from shared.mission import MISSION_KEY

DEFAULT_LISTEN = Settings().mqtt_listen
USER, PASSWORD = "demo", "demodemo"
CLIENT_ID, CLIENT_SECRET = "000000", "999999"


DEMO_DRONES = 3
"""Simulated drones (nodes ``Drone``, ``Drone 2``, ``Drone 3``), one ``gosd sim`` vehicle each."""

DEMO_SPEEDUP = 4.0
"""The simulated vehicles live 4x faster than the wall clock: the sample flight takes ~1 min."""

DEPOT_DRIVER = {"steps": 20, "step_s": 1.0}
"""The depot has no driver of its own yet: the ``fake`` one, with 20 s jobs."""

SAMPLE_MISSION = "square.plan"


@dataclass(frozen=True)
class DemoNode:
    id: int
    secret: str
    type: NodeType
    live_points: tuple[int, ...] = ()
    """Its ``livestream_flv`` points (fed by its simulated vehicle's camera)."""


@dataclass(frozen=True)
class DemoWorld:
    nodes: list[DemoNode]
    viewer_path: str
    """The first drone's camera as the relay serves it, with a viewer token that lasts
    as long as the server allows (``GOSD_LIVE_TOKEN_MAX_TTL_S``): the demo prints it."""


async def seed(settings: Settings, mission: bytes) -> DemoWorld:
    """The seed's example world (a user, a client, a drone with a video point, a depot),
    two more drones, and plan 1: the sample mission for the first drone."""
    async with open_database(settings.effective_database_url):
        user = await accounts.add_user(USER, PASSWORD, is_admin=True)
        await accounts.add_client(CLIENT_ID, CLIENT_SECRET)
        admin = Principal(kind="user", id=user.id, group_id=user.group.id, name=USER, is_admin=True)
        writes = [
            NodeWrite(
                name="Drone",
                description="A Test Drone",
                type_name=NodeType.AIR,
                points=[PointWrite(name="aa", point_type_name=PointType.LIVESTREAM_FLV)],
            ),
            NodeWrite(name="Depot", description="A Test Depot", type_name=NodeType.DEPOT),
            *(
                NodeWrite(
                    name=f"Drone {i}", description="A simulated drone", type_name=NodeType.AIR
                )
                for i in range(2, DEMO_DRONES + 1)
            ),
        ]
        created = [(await nodes.create_node(admin, w), w.type_name) for w in writes]
        store = BlobStore(settings.blob_dir)
        store.prepare()
        staged = store.stage(SAMPLE_MISSION, "application/json")
        await staged.write(mission)
        await staged.finish()
        blob_ids = await BlobService(store).create(admin, [(MISSION_KEY, staged)])
        await plans.create_plan(
            admin,
            PlanWrite(
                name="Square",
                description="Take off, fly a 150 m square at 30 m, return home",
                node_id=created[0][0].id,
                files={MISSION_KEY: blob_ids[MISSION_KEY]},
                extra={"on_finish": "rtl", "takeoff_alt_m": "30"},
            ),
            store=store,
        )
        drone, _ = created[0]
        tokens = LiveTokens.create(
            settings.live_token_key, settings.live_token_max_ttl_s, settings.base_path
        )
        viewer = await tokens.mint(
            admin, drone.id, drone.points[0].id, settings.live_token_max_ttl_s
        )
    return DemoWorld(
        [
            DemoNode(
                n.id,
                n.secret,
                t,
                tuple(p.id for p in n.points if p.point_type_name == PointType.LIVESTREAM_FLV),
            )
            for n, t in created
        ],
        viewer.url,
    )


def walkthrough(base_url: str, mission: Path, drone_ids: list[int]) -> str:
    """The seed's curl sequence against this demo, ready to paste into a shell."""
    auth = '-H "Authorization: Bearer $TOKEN"'
    first, last = drone_ids[0], drone_ids[-1]
    return f"""\
# Paste into a shell (needs curl and python3):
B={base_url}
curl $B/api/v2/ok
TOKEN=$(curl -s $B/oauth/token -F grant_type=password -F username={USER} \\
  -F password={PASSWORD} -F client_id={CLIENT_ID} -F client_secret={CLIENT_SECRET} \\
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl $B/api/v1/nodes/ {auth}
curl $B/api/v2/plans/1 {auth}                    # the sample mission, for drone {first}
curl -X POST $B/api/v2/plans/1/jobs/ {auth}       # fly it
curl $B/api/v2/plans/1/jobs/1/events {auth}       # again and again: take-off, each waypoint, landing
curl $B/api/v2/nodes/{first}/msg/position {auth}
curl -N $B/api/v2/nodes/{first}/stream {auth}     # live status and telemetry; Ctrl-C ends it
# Your own plan: the same mission file for drone {last}; fly it, then cancel (it returns home)
curl -X POST -F c1=@{mission} $B/api/v2/blobs/ {auth}
curl -X POST $B/api/v2/plans/ {auth} -H 'content-type: application/json' \\
  -d '{{"name":"233","description":"test","node_id":{last},"files":{{"mission":"2"}},"extra":{{"on_finish":"land"}}}}'
curl -X POST $B/api/v2/plans/2/jobs/ {auth}
curl $B/api/v2/plans/2/jobs/1 {auth}              # until its status is running
curl -X POST $B/api/v2/plans/2/jobs/cancel {auth}
curl $B/api/v2/plans/2/jobs/1/events {auth}
# API document: $B/schema/swagger (interactive page), $B/schema/openapi.json
"""


def run_demo(settings: Settings, *, host: str, port: int) -> int:
    """Seed a temporary data dir, serve with simulated drones and an agent per node until
    SIGINT or SIGTERM, then stop the children and remove the data dir.

    The embedded broker takes any free port unless ``GOSD_MQTT_LISTEN`` names one, so
    the demo runs beside a broker that already holds 1883; the simulated drones take
    PX4 SITL's ports (14540 + i) when they are free, other free UDP ports otherwise.
    A stop signal while it starts up raises ``StopRequested`` after the same clean-up.
    """
    children = ChildProcesses()
    data_dir: Path | None = None
    with stop_raises():
        try:
            data_dir = Path(tempfile.mkdtemp(prefix="gosd-demo-"))
            _seed_and_serve(settings, host, port, data_dir, children)
        finally:
            with stop_ignored():
                children.stop()
                if data_dir is not None:
                    shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def _seed_and_serve(
    settings: Settings, host: str, port: int, data_dir: Path, children: ChildProcesses
) -> None:
    """The demo's life between set-up and clean-up; returns when it is asked to stop."""
    demo_settings = settings.with_changes(data_dir=data_dir, database_url="")
    mqtt_host, mqtt_port = listen_address(settings.mqtt_listen, "GOSD_MQTT_LISTEN")
    if not settings.mqtt_url and (mqtt_port == 0 or settings.mqtt_listen == DEFAULT_LISTEN):
        # Agents need the real port in their configs, so pick it here.
        demo_settings = demo_settings.with_changes(mqtt_listen=f"{mqtt_host}:{free_port()}")
    if not settings.live_token_key:
        # The printed viewer URL is signed before the server starts: fix the key.
        demo_settings = demo_settings.with_changes(live_token_key=secrets.token_urlsafe(32))
    mission = data_dir / SAMPLE_MISSION
    mission.write_bytes(sample_plan(HOME))
    world = asyncio.run(seed(demo_settings, mission.read_bytes()))
    sock = bind(host, port)
    base_url = f"http://{host}:{sock.getsockname()[1]}{settings.base_path}"
    demo_settings = demo_settings.with_changes(public_url=base_url)
    drones = [n for n in world.nodes if n.type is NodeType.AIR]
    sim_port = free_udp_ports(len(drones), first=PX4_SITL_API_PORT)
    camera_port = free_port()
    _start_simulator(children, len(drones), sim_port, camera_port)
    for node in world.nodes:
        instance = drones.index(node) if node in drones else None
        _start_agent(children, demo_settings, node, instance, sim_port, camera_port)
    print(walkthrough(base_url, mission, [n.id for n in drones]), flush=True)
    print(
        f"# Drone {drones[0].id}'s camera, live in a browser (simulated, through its agent and "
        f"the control plane):\n{base_url}/player/?src={quote(world.viewer_path, safe='')}\n",
        flush=True,
    )
    print(
        f"gosd demo: control plane at {base_url}, broker at "
        f"{broker_url_for_agents(demo_settings)}, {len(drones)} simulated drones on UDP "
        f"{sim_port}-{sim_port + len(drones) - 1} ({DEMO_SPEEDUP:g}x real time) with cameras "
        f"on http://127.0.0.1:{camera_port}/cameras/, agents for nodes "
        f"{', '.join(str(n.id) for n in world.nodes)} (data in {data_dir}); Ctrl-C stops it",
        flush=True,
    )
    # The agents stop first, while their broker still runs: each says it is offline.
    asyncio.run(serve_on(demo_settings, sock, on_stop=children.terminate))


def _start_simulator(
    children: ChildProcesses, vehicles: int, base_port: int, camera_port: int
) -> None:
    """``gosd sim``: vehicle i sends its MAVLink to 127.0.0.1:(base_port + i) and serves
    its camera at ``camera_url(camera_port, i)`` (encoded only while someone reads it)."""
    lat, lon, alt = HOME
    children.start(
        [
            *(sys.executable, "-m", "gosd", "sim"),
            *("--vehicles", str(vehicles), "--base-port", str(base_port)),
            *("--speedup", str(DEMO_SPEEDUP), "--home", f"{lat},{lon},{alt}"),
            *("--cameras", "--camera-port", str(camera_port)),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


def _start_agent(
    children: ChildProcesses,
    settings: Settings,
    node: DemoNode,
    instance: int | None,
    sim_port: int,
    camera_port: int,
) -> None:
    """An edge agent as its own process (as on a real node): a drone's flies simulated
    vehicle ``instance`` and streams its camera to the node's video point when someone
    watches; the depot's runs the fake driver."""
    config = agent_setup.agent_config(settings, node.id, node.secret, node.type)
    if instance is None:
        driver = agent_config.DriverSection.of("fake", DEPOT_DRIVER)
    else:
        connection = agent_setup.drone_connection(sim_port + instance)
        driver = agent_config.DriverSection.of(
            "mavsdk", {**config.driver.settings, "connection": connection}
        )
    streams = [
        agent_config.LivestreamSection(point_id=point, source=camera_url(camera_port, instance))
        for point in node.live_points
        if instance is not None
    ]
    config = msgspec.structs.replace(config, driver=driver, livestream=streams)
    path = settings.data_dir / f"agent-{node.id}.toml"
    agent_config.write(config, path)
    children.start(
        [sys.executable, "-m", "gosd", "agent", "--config", str(path)],
        stdin=subprocess.DEVNULL,
    )


def camera_url(port: int, instance: int) -> str:
    """Where ``gosd sim --cameras`` serves vehicle ``instance``'s camera (MPEG-TS)."""
    return f"http://127.0.0.1:{port}/cameras/{instance}.ts"


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_ports(count: int, *, first: int) -> int:
    """The lowest port from ``first`` up such that ``count`` UDP ports in a row are free."""
    port = first
    while port + count <= 65535:
        taken = next((p for p in range(port, port + count) if not _udp_free(p)), None)
        if taken is None:
            return port
        port = taken + 1
    raise OSError(f"no {count} free UDP ports in a row from {first}")


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True
