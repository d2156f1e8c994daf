"""A job's well-known ``extra`` keys: what the control plane stores is what the agent flies.

The control plane refuses a bad value when a plan or job is written (422 naming the key
and its bound), with the very words the agent would refuse it with at dispatch; values
the agent accepts, the control plane accepts too, and unknown keys pass through.
"""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from control_plane.demo_mission import sample_plan
from edge_agent.executor import validate_job
from edge_agent.rpc import RpcFailure
from shared.errors import RpcErrorCode
from shared.messages import JobSpec

Headers = dict[str, str]
Client = AsyncTestClient[Any]

REFUSED = [
    ("takeoff_alt_m", "2000", "extra.takeoff_alt_m: 2000 is outside 1..1000 m"),
    ("takeoff_alt_m", "high", "extra.takeoff_alt_m: 'high' is not a number"),
    ("speed_m_s", "0.05", "extra.speed_m_s: 0.05 is outside 0.1..50 m/s"),
    ("link_loss_timeout_s", "7200", "extra.link_loss_timeout_s: 7200 is outside 1..3600 s"),
    ("min_battery_pct", "-1", "extra.min_battery_pct: -1 is outside 0..100 %"),
    ("on_finish", "crash", "extra.on_finish: 'crash' is not one of hold, land, rtl"),
    ("link_loss_action", "panic", "extra.link_loss_action: 'panic' is not one of"),
    ("speed_m_s", "inf", "extra.speed_m_s: inf is outside 0.1..50 m/s"),
]


def agent_refusal(extra: dict[str, str]) -> tuple[RpcErrorCode, str] | None:
    """What the edge agent answers to ``job_start`` of a job with ``extra`` (None: takes it)."""
    try:
        validate_job(JobSpec(plan_id=1, job_id=1, extra=extra))
    except RpcFailure as exc:
        return exc.code, exc.detail
    return None


async def make_node(client: Client, auth: Headers) -> int:
    r = await client.post(
        "/gosd/api/v2/nodes/", headers=auth, json={"name": "d1", "type_name": "air"}
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def upload(client: Client, auth: Headers) -> int:
    r = await client.post("/gosd/api/v2/blobs/", headers=auth, files={"f": ("n.txt", b"n")})
    assert r.status_code == 201, r.text
    return int(r.json()["f"])


async def assert_no_blob_after(client: Client, auth: Headers, blob_id: int) -> None:
    """Blob ids grow by one: the next id missing means nothing was stored since."""
    r = await client.get(f"/gosd/api/v2/blobs/{blob_id + 1}/meta", headers=auth)
    assert r.status_code == 404, r.text


def assert_refused(r: Any, key: str, message: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid_input"
    assert body["location"] == f"extra.{key}"
    assert body["error_message"].startswith(message)
    assert "Traceback" not in body["error_message"]


@pytest.mark.parametrize(("key", "value", "message"), REFUSED)
async def test_plan_create_refuses_what_the_agent_would_refuse(
    client: Client, auth: Headers, key: str, value: str, message: str
) -> None:
    node_id = await make_node(client, auth)
    extra = {key: value, "camera": "on"}
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        json={"name": "p", "node_id": node_id, "extra": extra},
    )
    assert_refused(r, key, message)
    refusal = (RpcErrorCode.INVALID_JOB, r.json()["error_message"])
    assert agent_refusal(extra) == refusal, "one definition, one message"
    assert (await client.get("/gosd/api/v2/plans/", headers=auth)).json() == []


async def test_values_the_agent_flies_are_stored_with_unknown_keys(
    client: Client, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    extra = {
        "takeoff_alt_m": "1000",
        "speed_m_s": "0.1",
        "on_finish": "hold",
        "link_loss_action": "land",
        "link_loss_timeout_s": "1",
        "min_battery_pct": "0",
        "camera": "on",
    }
    assert agent_refusal(extra) is None
    r = await client.post(
        "/gosd/api/v2/plans/", headers=auth, json={"name": "p", "node_id": node_id, "extra": extra}
    )
    assert r.status_code == 201, r.text
    assert r.json()["extra"] == extra


async def test_plan_replace_refuses_and_keeps_the_plan(client: Client, auth: Headers) -> None:
    node_id = await make_node(client, auth)
    plan = {"name": "p", "node_id": node_id, "extra": {"takeoff_alt_m": "20"}}
    created = await client.post("/gosd/api/v2/plans/", headers=auth, json=plan)
    assert created.status_code == 201, created.text
    url = f"/gosd/api/v2/plans/{created.json()['id']}"
    r = await client.put(
        url, headers=auth, json={**plan, "name": "q", "extra": {"takeoff_alt_m": "2000"}}
    )
    assert_refused(r, "takeoff_alt_m", "extra.takeoff_alt_m: 2000 is outside 1..1000 m")
    kept = (await client.get(url, headers=auth)).json()
    assert (kept["name"], kept["extra"]) == ("p", {"takeoff_alt_m": "20"})


async def test_multipart_plan_create_refuses_and_stores_no_file(
    client: Client, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    last_blob = await upload(client, auth)
    r = await client.post(
        "/gosd/api/v2/plans/",
        headers=auth,
        files={
            "name": (None, "survey"),
            "node_id": (None, str(node_id)),
            "takeoff_alt_m": (None, "2000"),
            "mission": ("field.plan", sample_plan()),
        },
    )
    assert_refused(r, "takeoff_alt_m", "extra.takeoff_alt_m: 2000 is outside 1..1000 m")
    assert (await client.get("/gosd/api/v2/plans/", headers=auth)).json() == []
    await assert_no_blob_after(client, auth, last_blob)


async def test_job_create_refuses_json_and_multipart_and_queues_nothing(
    client: Client, auth: Headers
) -> None:
    node_id = await make_node(client, auth)
    created = await client.post(
        "/gosd/api/v2/plans/", headers=auth, json={"name": "p", "node_id": node_id}
    )
    jobs = f"/gosd/api/v2/plans/{created.json()['id']}/jobs/"
    r = await client.post(jobs, headers=auth, json={"extra": {"on_finish": "crash"}})
    assert_refused(r, "on_finish", "extra.on_finish: 'crash' is not one of hold, land, rtl")

    last_blob = await upload(client, auth)
    r = await client.post(
        jobs,
        headers=auth,
        files={"min_battery_pct": (None, "150"), "notes": ("notes.txt", b"north field")},
    )
    assert_refused(r, "min_battery_pct", "extra.min_battery_pct: 150 is outside 0..100 %")
    await assert_no_blob_after(client, auth, last_blob)
    assert (await client.get(jobs, headers=auth)).json() == []

    ok = await client.post(jobs, headers=auth, json={"extra": {"speed_m_s": "12"}})
    assert ok.status_code == 201, ok.text
    assert ok.json()["extra"] == {"speed_m_s": "12"}
