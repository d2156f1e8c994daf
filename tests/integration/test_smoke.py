from litestar.testing import AsyncTestClient


async def test_ok_needs_no_token(client: AsyncTestClient) -> None:
    r = await client.get("/gosd/api/v2/ok")
    assert r.status_code == 200
    assert "ok" in r.json()


async def test_user_sees_itself(client: AsyncTestClient, auth: dict[str, str]) -> None:
    r = await client.get("/gosd/api/v1/user/", headers=auth)
    assert r.status_code == 200
    assert r.json()["username"] == "demo"
    assert r.json()["group"]["name"] == "demo"
