"""The generated Mosquitto files: the same ACL as acl.py, secrets unreadable to others."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from control_plane.messaging.acl import may_publish, may_subscribe
from control_plane.messaging.mosquitto_config import write_mosquitto_config
from control_plane.services.hashing import hash_node_secret, verify_node_secret
from shared import topics
from shared.topics import CONTROL_PLANE_USERNAME

NODES = [(1, hash_node_secret("one")), (12, hash_node_secret("twelve"))]


def _write(tmp_path: Path, nodes: list[tuple[int, str]] = NODES) -> dict[str, str]:
    paths = write_mosquitto_config(
        tmp_path / "out", listen=("0.0.0.0", 18830), control_plane_password="cp-pass", nodes=nodes
    )
    return {p.name: p.read_text() for p in paths}


def _acl_blocks(text: str) -> dict[str, list[tuple[str, str]]]:
    blocks: dict[str, list[tuple[str, str]]] = {}
    user = None
    for line in text.splitlines():
        if line.startswith("user "):
            user = line.removeprefix("user ")
            blocks[user] = []
        elif line.startswith("topic "):
            assert user is not None, "a topic line before any user applies to anonymous clients"
            _, access, topic = line.split(" ", 2)
            blocks[user].append((access, topic))
    return blocks


def test_the_files_and_their_modes(tmp_path: Path) -> None:
    files = _write(tmp_path)
    out = (tmp_path / "out").resolve()
    assert list(files) == ["mosquitto.conf", "passwd", "acl"]
    conf = files["mosquitto.conf"].splitlines()
    assert "listener 18830 0.0.0.0" in conf
    assert "allow_anonymous false" in conf
    assert f"password_file {out / 'passwd'}" in conf
    assert f"acl_file {out / 'acl'}" in conf
    assert any(line.startswith("max_queued_messages ") for line in conf)
    assert "max_queued_messages 0" not in conf  # 2.0.11 then drops clients on ACL denials
    assert not any(line.startswith("user ") for line in conf)
    for name, mode in (("passwd", 0o600), ("acl", 0o600), ("mosquitto.conf", 0o644)):
        assert stat.S_IMODE((out / name).stat().st_mode) == mode


def test_passwd_holds_the_stored_hashes_and_the_control_plane(tmp_path: Path) -> None:
    lines = dict(line.split(":", 1) for line in _write(tmp_path)["passwd"].splitlines())
    assert lines["node-1"] == NODES[0][1]
    assert lines["node-12"] == NODES[1][1]
    assert verify_node_secret(lines[CONTROL_PLANE_USERNAME], "cp-pass")
    assert set(lines) == {CONTROL_PLANE_USERNAME, "node-1", "node-12"}


def test_the_acl_file_says_what_acl_py_says(tmp_path: Path) -> None:
    blocks = _acl_blocks(_write(tmp_path)["acl"])
    assert ("readwrite", "#") in blocks[CONTROL_PLANE_USERNAME]
    for node_id in (1, 12):
        user = f"node-{node_id}"
        written = {t for access, t in blocks[user] if access == "write"}
        read = {t for access, t in blocks[user] if access == "read"}
        assert {access for access, _ in blocks[user]} == {"write", "read"}
        assert read == {topics.rpc_send(node_id), topics.events_ack(node_id)}
        assert all(may_subscribe(user, t) for t in read)
        # Every concrete topic a line allows is allowed by acl.py, and the reverse.
        samples = [
            topics.status(node_id),
            topics.rpc_recv(node_id),
            topics.msg(node_id, "position"),
            topics.network(node_id),
            topics.events(node_id),
        ]
        assert all(may_publish(user, t) for t in samples)
        assert {t.replace("/msg/position", "/msg/+") for t in samples} == written


def test_rewriting_replaces_the_files(tmp_path: Path) -> None:
    _write(tmp_path)
    files = _write(tmp_path, NODES[:1])
    assert "node-12" not in files["passwd"] and "node-12" not in files["acl"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "acl",
        "mosquitto.conf",
        "passwd",
    ]


@pytest.mark.parametrize("bad", ["plain", "$6$abc", "$7$101$a$b\nnode-2:$7$x", "$7$1:2"])
def test_a_hash_that_would_break_the_password_file_is_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="node 3"):
        _write(tmp_path, [(3, bad)])
