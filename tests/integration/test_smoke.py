import json
from typing import Any

from litestar.testing import AsyncTestClient

from shared.contract import CONTRACT_PATH


async def test_ok_needs_no_token(client: AsyncTestClient) -> None:
    r = await client.get("/gosd/api/v2/ok")
    assert r.status_code == 200
    assert "ok" in r.json()


async def test_user_sees_itself(client: AsyncTestClient, auth: dict[str, str]) -> None:
    r = await client.get("/gosd/api/v1/user/", headers=auth)
    assert r.status_code == 200
    assert r.json()["username"] == "demo"
    assert r.json()["group"]["name"] == "demo"


async def test_the_mqtt_contract_is_served_as_kept_in_the_repository(
    client: AsyncTestClient[Any],
) -> None:
    r = await client.get("/gosd/api/v2/protocol/asyncapi.json")
    assert r.status_code == 200
    assert r.json() == json.loads(CONTRACT_PATH.read_text(encoding="utf-8"))
    assert "nodes/{node_id}/events" in r.json()["channels"]
