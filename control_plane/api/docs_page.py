"""The interactive API page (Swagger UI 5 at ``/schema/swagger``), working offline.

Litestar's render plugins load their scripts, styles and favicon from a CDN, and
Swagger UI 4 cannot read the OpenAPI 3.1 document Litestar 2 writes ("does not specify a
valid version field"). So the page is Swagger UI 5 from a PyPI package
(``swagger-ui-bundle-v2``), served by this process: nothing it loads comes from another
host. Litestar serves only the render pages it is given, so its CDN-loaded ReDoc,
Elements, RapiDoc and Scalar pages are not served at all.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from litestar import get
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.params import FromPath
from litestar.response import File
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]

from control_plane.api.auth import PUBLIC
from control_plane.errors import NotFound

ASSETS_SUBPATH = "/docs-assets"
"""Under the base path: where the page's own files are served."""

SWAGGER_UI_DIR = Path(swagger_ui_path)

ASSET_MEDIA_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
"""The files the page loads, and nothing else of the bundle: its ``index.html`` is a
demo that fetches the Petstore document from the internet."""


class DocsPage(NamedTuple):
    """What ``create_app`` wires in: the render plugins of its ``OpenAPIConfig`` and
    the route that serves their files."""

    render_plugins: list[OpenAPIRenderPlugin]
    assets: HTTPRouteHandler


def docs_page(base_path: str) -> DocsPage:
    """The API page for an app whose routes live under ``base_path``."""
    assets_path = base_path + ASSETS_SUBPATH
    swagger = SwaggerRenderPlugin(
        js_url=f"{assets_path}/swagger-ui-bundle.js",
        css_url=f"{assets_path}/swagger-ui.css",
        standalone_preset_js_url=f"{assets_path}/swagger-ui-standalone-preset.js",
        # Litestar's default favicon is an image on a CDN.
        favicon=f"<link rel='icon' type='image/png' href='{assets_path}/favicon-32x32.png'>",
    )

    @get(
        assets_path + "/{name:str}",
        opt={PUBLIC: True},
        include_in_schema=False,
        sync_to_thread=False,
    )
    def docs_asset(name: FromPath[str]) -> File:
        """One of the page's files, from the installed package."""
        media_type = ASSET_MEDIA_TYPES.get(name)
        if media_type is None:
            raise NotFound(f"no API page file named {name!r}")
        return File(
            SWAGGER_UI_DIR / name,
            filename=name,
            media_type=media_type,
            content_disposition_type="inline",
        )

    return DocsPage(render_plugins=[swagger], assets=docs_asset)
