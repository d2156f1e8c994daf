"""The wire protocol: topics, strict decoding and the published contract."""

from __future__ import annotations

import pytest

from shared import codec, topics
from shared.contract import CONTRACT_PATH, render
from shared.enums import JobStatus
from shared.messages import EventAck, JobEvent, NodeStatus, RpcRequest, StatusCode


def test_the_contract_file_matches_the_code() -> None:
    assert CONTRACT_PATH.read_text(encoding="utf-8") == render(), (
        "shared/contract.json is stale: run python -m shared.contract --write"
    )


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("nodes/7/status", (7, topics.NodeTopic.STATUS, None)),
        ("nodes/7/msg/position", (7, topics.NodeTopic.MSG, "position")),
        ("nodes/7/events/ack", (7, topics.NodeTopic.EVENTS_ACK, None)),
        ("nodes/07/status", None),
        ("nodes/-1/status", None),
        ("nodes/7/msg/a/b", None),
        ("nodes/7/msg/+", None),
        ("nodes/7/msg", None),
        ("nodes/7/statuses", None),
        ("plans/7/running", None),
        ("nodes//status", None),
    ],
)
def test_topics_parse_only_what_the_builders_make(topic: str, expected: object) -> None:
    assert topics.parse(topic) == expected


def test_builders_and_parser_agree() -> None:
    for built in (topics.status(3), topics.rpc_send(3), topics.events_ack(3), topics.msg(3, "gps")):
        parsed = topics.parse(built)
        assert parsed is not None and parsed.node_id == 3


def test_a_telemetry_name_cannot_smuggle_levels_or_wildcards() -> None:
    for name in ("a/b", "#", "+", "", "x" * 65):
        with pytest.raises(ValueError, match="telemetry name"):
            topics.msg(1, name)


@pytest.mark.parametrize(
    ("username", "node_id"),
    [("node-1", 1), ("node-42", 42), ("node-01", None), ("node-", None), ("gosd", None)],
)
def test_node_usernames(username: str, node_id: int | None) -> None:
    assert topics.node_id_of_username(username) == node_id


def test_round_trip_of_an_event() -> None:
    event = JobEvent(seq=4, stream="s", plan_id=1, job_id=2, state=JobStatus.RUNNING, time=1.5)
    assert codec.decode(codec.encode(event), JobEvent) == event


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe\x00garbage",
        b"[]",
        b'{"seq": "one", "stream": "s"}',
        b'{"code": 9, "msg": "x", "timestamp": "1"}',
        b'{"method": 5}',
        b"{" * 100_000,
        b" " * (codec.MAX_PAYLOAD_BYTES + 1),
    ],
)
def test_malformed_payloads_raise_protocol_error(payload: bytes) -> None:
    for kind in (EventAck, NodeStatus, RpcRequest):
        with pytest.raises(codec.ProtocolError):
            codec.decode(payload, kind)


def test_status_codes_have_the_original_meaning() -> None:
    status = codec.decode(b'{"code": 2, "msg": "neterror", "timestamp": "1700000000"}', NodeStatus)
    assert status.code is StatusCode.NETERROR and status.code.label == "neterror"
