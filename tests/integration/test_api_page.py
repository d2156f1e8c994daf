"""The API page (``/gosd/schema/swagger``) works on a machine with no internet.

The browser tests open it in Debian's Chromium (``tests.browser``) against a real
``gosd serve`` on 127.0.0.1, and record every request the page makes: one to any other
host fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from litestar.testing import AsyncTestClient
from playwright.async_api import Browser, Page, expect

from tests.browser import Recorded
from tests.e2e.processes import gosd_env, running

RENDER_TIMEOUT_MS = 30_000
"""Parsing 1.5 MB of Swagger UI takes a few seconds on a busy 2-core machine."""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """``gosd serve`` on a free port of 127.0.0.1; its base URL (``.../gosd``)."""
    with running("serve", "--host", "127.0.0.1", "--port", "0", env=gosd_env(tmp_path)) as (
        base,
        _,
    ):
        yield base


async def open_api_page(browser: Browser, base: str) -> tuple[Page, Recorded]:
    """The API page, once Swagger UI has rendered the document and the network is quiet."""
    context = await browser.new_context()
    recorded = Recorded(context)
    page = await context.new_page()
    response = await page.goto(base + "/schema/swagger")
    assert response is not None and response.status == 200
    unreadable = page.get_by_text("Unable to render this definition")
    rendered = page.locator(".opblock").or_(unreadable).first
    await expect(rendered).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    # What Swagger UI 4 said of Litestar's OpenAPI 3.1 ("... does not specify a valid
    # version field"), instead of listing anything.
    await expect(unreadable).to_have_count(0)
    await page.wait_for_load_state("networkidle")
    return page, recorded


def documented_operations(base: str) -> set[tuple[str, str]]:
    doc: dict[str, Any] = httpx.get(base + "/schema/openapi.json").json()
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


@pytest.mark.integration
async def test_the_page_lists_every_operation_and_loads_only_from_this_server(
    browser: Browser, server: str
) -> None:
    expected = documented_operations(server)
    assert {("POST", "/gosd/oauth/token"), ("GET", "/gosd/api/v2/plans")} <= expected

    page, recorded = await open_api_page(browser, server)

    await expect(page.locator(".opblock")).to_have_count(len(expected))
    shown = await page.locator(".opblock").evaluate_all(
        """blocks => blocks.map(b => [
            b.querySelector('.opblock-summary-method').textContent.trim(),
            b.querySelector('.opblock-summary-path').getAttribute('data-path'),
        ])"""
    )
    assert {(method, path) for method, path in shown} == expected
    await expect(page.get_by_role("heading", level=1)).to_contain_text("gosd control plane")
    await expect(page.locator(".errors-wrapper")).to_have_count(0)

    assert recorded.errors == []
    assert recorded.failed == []
    loaded = {urlsplit(url).path for url in recorded.urls}
    assert {
        "/gosd/schema/swagger",
        "/gosd/docs-assets/swagger-ui-bundle.js",
        "/gosd/docs-assets/swagger-ui.css",
    } <= loaded
    assert recorded.elsewhere(server) == []


@pytest.mark.integration
async def test_try_it_out_calls_this_server(browser: Browser, server: str) -> None:
    page, recorded = await open_api_page(browser, server)

    operation = page.locator(".opblock", has=page.locator("[data-path='/gosd/api/v2/ok']"))
    await operation.locator(".opblock-summary-control").click()
    await operation.get_by_role("button", name="Try it out").click()
    await operation.get_by_role("button", name="Execute").click()

    status = operation.locator(".live-responses-table tr.response .response-col_status")
    await expect(status).to_have_text("200", timeout=RENDER_TIMEOUT_MS)
    await expect(operation.locator(".live-responses-table")).to_contain_text('"ok"')
    assert server + "/api/v2/ok" in recorded.urls
    assert recorded.elsewhere(server) == []


async def test_the_page_references_only_files_of_this_server(client: AsyncTestClient) -> None:
    r = await client.get("/gosd/schema/swagger")
    assert r.status_code == 200
    head = r.text.split("<body", 1)[0]
    assert "http://" not in head and "https://" not in head
    assert "/gosd/docs-assets/favicon-32x32.png" in head
    icon = await client.get("/gosd/docs-assets/favicon-32x32.png")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/png"


@pytest.mark.parametrize("page", ["redoc", "elements", "rapidoc", "scalar"])
async def test_litestars_cdn_loaded_pages_are_not_served(
    client: AsyncTestClient, page: str
) -> None:
    r = await client.get(f"/gosd/schema/{page}")
    assert r.status_code == 404
    assert "<script" not in r.text


@pytest.mark.parametrize(
    "name",
    [
        "index.html",  # the bundle's demo page: it loads the Petstore from the internet
        "swagger-initializer.js",
        "..%2F..%2Fapp.py",
        "%2e%2e",
        "swagger-ui.css%00.png",
        "x" * 2000,
    ],
)
async def test_the_assets_route_serves_only_the_pages_files(
    client: AsyncTestClient, name: str
) -> None:
    r = await client.get(f"/gosd/docs-assets/{name}")
    assert r.status_code == 404
    assert r.json()["code"] == "not_found"
    assert set(r.json()) == {"error_message", "code"}
