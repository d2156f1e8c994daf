"""``gosd`` as an operator uses it: accounts and nodes from the shell, then the server."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared import agent_config
from tests.e2e.processes import gosd, gosd_env, json_of, running

pytestmark = pytest.mark.integration


def test_accounts_and_nodes_from_the_shell_work_against_the_server(tmp_path: Path) -> None:
    env = gosd_env(tmp_path)
    user = json_of(gosd("users", "add", "alice", "alicealice", "--admin", "--json", env=env))
    assert user["username"] == "alice" and user["group"]["name"] == "alice"
    client = json_of(gosd("clients", "add", "web", "--json", env=env))
    assert len(client["secret"]) == 64
    node = json_of(
        gosd(
            "nodes",
            "add",
            "drone-1",
            "--type",
            "air",
            "--point",
            "livestream_flv:cam",
            "--json",
            env=env,
        )
    )
    assert set(node) == {"id", "secret"}

    listed = json_of(gosd("nodes", "list", "--json", env=env))
    assert [(group, n["name"]) for group, n in listed] == [("alice", "drone-1")]

    alice_login = {
        "grant_type": "password",
        "username": "alice",
        "password": "alicealice",
        "client_id": "web",
        "client_secret": client["secret"],
    }
    with running("serve", "--port", "0", env=env) as (base, _), httpx.Client(base_url=base) as c:
        r = c.post(
            "/oauth/token",
            data=alice_login,
        )
        assert r.status_code == 200, r.text
        people = {"Authorization": "Bearer " + r.json()["access_token"]}
        assert [n["name"] for n in c.get("/api/v1/nodes/", headers=people).json()] == ["drone-1"]

        r = c.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": f"node-{node['id']}",
                "client_secret": node["secret"],
            },
        )
        assert r.status_code == 200, r.text
        assert "refresh_token" not in r.json()

        # A password changed from the shell takes effect at once.
        gosd("users", "passwd", "alice", "new-password", env=env)
        r = c.post(
            "/oauth/token",
            data=alice_login,
        )
        assert r.status_code == 400 and r.json()["code"] == "invalid_grant"


def test_errors_go_to_stderr_with_a_non_zero_exit(tmp_path: Path) -> None:
    env = gosd_env(tmp_path)
    gosd("users", "add", "bob", "bobbobbob", env=env)
    again = gosd("users", "add", "bob", "bobbobbob", env=env, check=False)
    assert again.returncode == 1 and "exists" in again.stderr and again.stdout == ""
    short = gosd("users", "add", "carol", "short", env=env, check=False)
    assert short.returncode == 1 and "at least 8" in short.stderr
    missing = gosd("nodes", "remove", "42", env=env, check=False)
    assert missing.returncode == 1 and "no node 42" in missing.stderr
    bad_point = gosd(
        "nodes", "add", "x", "--type", "air", "--point", "laser:x", env=env, check=False
    )
    assert bad_point.returncode == 2 and "laser" in bad_point.stderr
    bad_env = gosd("users", "list", env={**env, "GOSD_LOGIN_LOCKOUT_S": "soon"}, check=False)
    assert bad_env.returncode == 2 and "GOSD_LOGIN_LOCKOUT_S" in bad_env.stderr
    # Nothing half-done: only bob exists.
    assert [u["username"] for u in json_of(gosd("users", "list", "--json", env=env))] == ["bob"]


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    env = gosd_env(tmp_path)
    with running("serve", "--port", "0", env=env) as (base, _):
        port = base.split(":")[2].split("/")[0]
        taken = gosd("serve", "--port", port, env=env, check=False)
    assert taken.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in taken.stderr


def test_a_taken_broker_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = gosd_env(tmp_path, GOSD_MQTT_LISTEN=f"127.0.0.1:{port}")
        taken = gosd("serve", "--port", "0", env=env, check=False)
    assert taken.returncode == 1, taken.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in taken.stderr
    assert "GOSD_MQTT_LISTEN" in taken.stderr


def test_agent_configs_are_written_whole_and_rotated(tmp_path: Path) -> None:
    env = gosd_env(
        tmp_path,
        GOSD_MQTT_LISTEN="127.0.0.1:18830",
        GOSD_PUBLIC_URL="http://cp.example:8000/gosd",
    )
    gosd("users", "add", "alice", "alicealice", env=env)
    path = tmp_path / "agents" / "d1.toml"
    created = json_of(
        gosd("nodes", "add", "d1", "--type", "air", "--agent-config", str(path), "--json", env=env)
    )
    assert path.stat().st_mode & 0o777 == 0o600, "the file holds a secret"
    config = agent_config.load(path, environ={})
    assert (config.node.id, config.node.secret) == (created["id"], created["secret"])
    assert config.broker.url == "mqtt://127.0.0.1:18830"
    assert config.control_plane.url == "http://cp.example:8000/gosd"
    # A drone flies a PX4 SITL or ``gosd sim`` vehicle 0 with no edits
    assert config.driver.kind == "mavsdk"
    assert config.driver.settings == {"connection": "udpin://0.0.0.0:14540"}

    rotated = json_of(
        gosd("nodes", "secret", str(created["id"]), "--agent-config", str(path), "--json", env=env)
    )
    assert rotated["secret"] != created["secret"]
    rotated_config = agent_config.load(path, environ={})
    assert rotated_config.node.secret == rotated["secret"]
    assert rotated_config.driver == config.driver, "a new secret keeps the drone's driver"
    depot = tmp_path / "agents" / "depot.toml"
    gosd("nodes", "add", "p1", "--type", "depot", "--agent-config", str(depot), env=env)
    assert agent_config.load(depot, environ={}).driver.kind == "fake", "no depot driver yet"
    with running("serve", "--port", "0", env=env) as (base, _), httpx.Client(base_url=base) as c:
        for secret, status in [(created["secret"], 401), (rotated["secret"], 200)]:
            r = c.post(
                "/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": f"node-{created['id']}",
                    "client_secret": secret,
                },
            )
            assert r.status_code == status, r.text

    missing = gosd("nodes", "secret", "999", env=env, check=False)
    assert missing.returncode == 1 and "no node 999" in missing.stderr


def _upload_body(boundary: str, size: int) -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="big"; '
        f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    chunk = bytes(range(256)) * 4096  # 1 MiB
    for _ in range(size // len(chunk)):
        yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def _peak_rss(pid: int) -> int:
    """VmHWM: the most resident memory the process has had (bytes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_large_upload_streams_with_flat_memory(tmp_path: Path) -> None:
    size = 128 * 1024 * 1024
    env = gosd_env(tmp_path)
    gosd("users", "add", "up", "uploader1", env=env)
    gosd("clients", "add", "c", "--secret", "csecret1", env=env)
    with (
        running("serve", "--port", "0", env=env) as (base, proc),
        httpx.Client(base_url=base, timeout=120) as c,
    ):
        r = c.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "username": "up",
                "password": "uploader1",
                "client_id": "c",
                "client_secret": "csecret1",
            },
        )
        auth = {"Authorization": "Bearer " + r.json()["access_token"]}
        c.get("/api/v1/nodes/", headers=auth)  # warm up the handlers
        before = _peak_rss(proc.pid)
        r = c.post(
            "/api/v2/blobs/",
            headers={**auth, "Content-Type": "multipart/form-data; boundary=xyzzy"},
            content=_upload_body("xyzzy", size),
        )
        assert r.status_code == 201, r.text
        growth = _peak_rss(proc.pid) - before
        blob_id = r.json()["big"]
        meta = c.get(f"/api/v2/blobs/{blob_id}/meta", headers=auth).json()
        assert meta["size"] == size
        with c.stream("GET", f"/api/v2/blobs/{blob_id}", headers=auth) as download:
            received = sum(len(b) for b in download.iter_bytes())
        assert received == size
    assert growth < 30 * 1024 * 1024, f"server memory grew {growth / 2**20:.1f} MiB"


def test_the_import_rule_holds() -> None:
    """DESIGN §3: shared imports nothing of ours, deployables never import each other,
    control plane layers point down only, and the agent needs no Litestar/Tortoise."""
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_agent_runs_without_the_control_planes_packages(tmp_path: Path) -> None:
    """``gosd agent`` on a node installed with the ``agent`` extra only."""
    blocked = ["litestar", "tortoise", "asyncpg", "argon2", "uvicorn", "amqtt", "aiosqlite"]
    config = tmp_path / "node.toml"
    config.write_text('[node]\nid = 1\nsecret = "s"\n[driver]\nkind = "nope"\n')
    script = (
        "import sys\n"
        f"sys.modules.update(dict.fromkeys({blocked!r}))\n"
        "from gosd.__main__ import main\n"
        f"sys.exit(main(['agent', '--config', {str(config)!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    # It got as far as choosing the driver: everything before needs none of them.
    assert result.returncode == 2, result.stderr
    assert "nope" in result.stderr and "Traceback" not in result.stderr
