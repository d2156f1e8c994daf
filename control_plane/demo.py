"""``gosd demo``: a control plane with the seed's demo accounts on a throw-away data dir."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

from control_plane.db.lifecycle import open_database
from control_plane.server import bind, serve_on
from control_plane.services import accounts, nodes
from control_plane.services.nodes import NodeWrite, PointType, PointWrite
from control_plane.services.principal import Principal
from control_plane.settings import Settings
from shared.enums import NodeType

USER, PASSWORD = "demo", "demodemo"
CLIENT_ID, CLIENT_SECRET = "000000", "999999"


async def seed(settings: Settings) -> None:
    """The seed's example world: a user, a client, a drone with a video point, a depot."""
    async with open_database(settings.effective_database_url):
        user = await accounts.add_user(USER, PASSWORD, is_admin=True)
        await accounts.add_client(CLIENT_ID, CLIENT_SECRET)
        admin = Principal(kind="user", id=user.id, group_id=user.group.id, name=USER, is_admin=True)
        await nodes.create_node(
            admin,
            NodeWrite(
                name="Drone",
                description="A Test Drone",
                type_name=NodeType.AIR,
                points=[PointWrite(name="aa", point_type_name=PointType.LIVESTREAM_FLV)],
            ),
        )
        await nodes.create_node(
            admin,
            NodeWrite(
                name="Depot",
                description="A Test Depot",
                type_name=NodeType.DEPOT,
            ),
        )


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
curl -X POST $B/api/v2/plans/1/jobs/cancel {auth}
# API document: $B/schema/swagger (interactive page), $B/schema/openapi.json
"""


def run_demo(settings: Settings, *, host: str, port: int) -> int:
    """Seed a temporary data dir, serve until Ctrl-C, then remove it."""
    data_dir = Path(tempfile.mkdtemp(prefix="gosd-demo-"))
    demo_settings = settings.with_changes(data_dir=data_dir, database_url="")
    try:
        asyncio.run(seed(demo_settings))
        sock = bind(host, port)
        base_url = f"http://{host}:{sock.getsockname()[1]}{settings.base_path}"
        print(walkthrough(base_url), flush=True)
        print(
            f"gosd demo: control plane at {base_url} (data in {data_dir}); Ctrl-C stops it",
            flush=True,
        )
        asyncio.run(serve_on(demo_settings, sock))
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0
