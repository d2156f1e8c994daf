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
