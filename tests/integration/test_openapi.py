"""The served OpenAPI document describes every route and what each one accepts."""

from __future__ import annotations

import re

from litestar.testing import AsyncTestClient


async def test_the_document_names_every_route_and_its_bodies(client: AsyncTestClient) -> None:
    r = await client.get("/gosd/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    routes = {
        (method.upper(), re.sub(r":\w+}", "}", path))
        for route in client.app.routes
        for path in [route.path]
        if path.startswith("/gosd/api") or path.startswith("/gosd/oauth")
        for method in route.methods - {"OPTIONS", "HEAD"}
    }
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    assert routes == documented
    operation_ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(operation_ids) == len(set(operation_ids))

    def media(path: str, method: str) -> set[str]:
        return set(doc["paths"][path][method]["requestBody"]["content"])

    assert media("/gosd/oauth/token", "post") == {
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/json",
    }
    assert media("/gosd/api/v2/plans", "post") == {"application/json", "multipart/form-data"}
    assert media("/gosd/api/v2/blobs", "post") == {"multipart/form-data"}
    token_fields = doc["paths"]["/gosd/oauth/token"]["post"]["requestBody"]["content"][
        "application/json"
    ]["schema"]["properties"]
    assert {"grant_type", "username", "password", "client_id", "client_secret"} <= set(token_fields)


PUBLIC = {
    ("get", "/gosd/api/v2/ok"),
    ("get", "/gosd/api/v2/protocol/asyncapi.json"),
    ("post", "/gosd/oauth/token"),
    ("post", "/gosd/api/v2/oauth/token"),
    ("post", "/gosd/oauth/revoke"),
    ("post", "/gosd/api/v2/oauth/revoke"),
}


async def test_every_error_is_documented_as_the_envelope_the_server_sends(
    client: AsyncTestClient, auth: dict[str, str]
) -> None:
    doc = (await client.get("/gosd/schema/openapi.json")).json()
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    assert set(doc["components"]["schemas"]["ErrorEnvelope"]["required"]) == {
        "error_message",
        "code",
    }
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert response["content"] == {"application/json": {"schema": envelope}}, (
                        method,
                        path,
                        status,
                    )
            # A token is asked for exactly where the server asks for one.
            needs_token = (method, path) not in PUBLIC
            assert bool(op.get("security")) == needs_token, (method, path)
            assert ("401" in op["responses"]) == needs_token or path.endswith(
                ("/oauth/token", "/oauth/revoke")
            ), (method, path)
    # What the server answers is what the document says, status and body alike.
    r = await client.get("/gosd/api/v2/plans/4242", headers=auth)
    assert r.status_code == 404 and set(r.json()) == {"error_message", "code"}
    assert "404" in doc["paths"]["/gosd/api/v2/plans/{plan_id}"]["get"]["responses"]
    r = await client.get("/gosd/api/v2/plans/0", headers=auth)
    assert r.status_code == 422 and r.json()["code"] == "invalid_input"
    assert "422" in doc["paths"]["/gosd/api/v2/plans/{plan_id}"]["get"]["responses"]

    def statuses(path: str, method: str) -> set[str]:
        return set(doc["paths"][path][method]["responses"])

    assert {"200", "400", "401", "429"} <= statuses("/gosd/oauth/token", "post")
    assert {"201", "400", "401", "403", "413", "422"} <= statuses("/gosd/api/v2/blobs", "post")
    assert {"200", "206", "304", "404", "416"} <= statuses("/gosd/api/v2/blobs/{blob_id}", "get")
    assert "409" in statuses("/gosd/api/v2/blobs/{blob_id}", "delete")
    assert "415" in statuses("/gosd/api/v2/plans", "post")
    history = "/gosd/api/v2/nodes/{node_id}/msg/{name}/history"
    assert "503" in statuses(history, "get")
    assert "503" in statuses("/gosd/api/v2/plans/{plan_id}/jobs/running", "delete")
    assert "400" not in statuses("/gosd/api/v2/plans/{plan_id}", "get")  # nothing to parse


async def test_answers_that_are_not_json_say_so(client: AsyncTestClient) -> None:
    doc = (await client.get("/gosd/schema/openapi.json")).json()
    download = doc["paths"]["/gosd/api/v2/blobs/{blob_id}"]["get"]["responses"]
    assert "application/octet-stream" in download["200"]["content"]
    assert "application/json" not in download["200"]["content"]
    stream = doc["paths"]["/gosd/api/v2/nodes/{node_id}/stream"]["get"]["responses"]["200"]
    assert set(stream["content"]) == {"text/event-stream"}


async def test_the_interactive_page_is_served(client: AsyncTestClient) -> None:
    r = await client.get("/gosd/schema/swagger")
    assert r.status_code == 200
    assert "SwaggerUIBundle" in r.text
    # Its scripts come from this server, not from a CDN: the page works offline.
    scripts = re.findall(r"src=['\"]([^'\"]+)['\"]", r.text)
    assert scripts
    for src in scripts:
        assert src.startswith("/gosd/"), src
        asset = await client.get(src)
        assert asset.status_code == 200
        assert len(asset.content) > 10_000
