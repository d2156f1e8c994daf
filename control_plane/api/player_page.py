"""The live video player page (``/gosd/player/?src=<FLV path>``), served from the wheel.

A user opens it with the ``src`` of a point's viewer URL (``.../live.flv?token=...``) and
watches the stream; the page itself holds nothing secret, so it needs no token. Its script
and mpegts.js (the FLV-over-MSE player, vendored from the npm registry by ``web/vendor.py``)
come from this process: nothing loads from another host, and the Content-Security-Policy
says so to the browser as well. The page plays only same-origin sources; ``player.js``
refuses others and says why.

Like the API page's files, the page is no part of the API: it is left out of the OpenAPI
document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from litestar import MediaType, Request, get
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath
from litestar.response import File, Redirect, Response

from control_plane.api.auth import PUBLIC
from control_plane.errors import NotFound

PLAYER_SUBPATH: Final = "/player"
"""Under the base path: the page, and its files beside it."""

PLAYER_DIR: Final = Path(__file__).resolve().parent.parent / "player"
"""``control_plane/player``: the page's files, packaged as data of ``control_plane``."""

CONTENT_SECURITY_POLICY: Final = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        # mpegts.js fetches the FLV (connect) and plays it through Media Source
        # Extensions, whose media element source is a blob: URL.
        "connect-src 'self'",
        "media-src 'self' blob:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
"""Only this server, and ``blob:`` for the MSE media."""

SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    # The page's address may carry a viewer token inside ``src``: send it nowhere.
    "Referrer-Policy": "no-referrer",
}

FILES: Final = {
    "player.js": "text/javascript",
    "player.css": "text/css",
    "vendor/mpegts.js": "text/javascript",
    "vendor/mpegts.js.LICENSE.txt": "text/plain",
    "vendor/LICENSE.mpegts.js": "text/plain",
    "vendor/LICENSE.es6-promise": "text/plain",
    "vendor/LICENSE.events": "text/plain",
}
"""The files the page may load, by their path under the page; nothing else is served."""


def player_page(base_path: str) -> list[HTTPRouteHandler]:
    """The page's routes for an app whose routes live under ``base_path``."""
    page_path = base_path + PLAYER_SUBPATH

    @get(
        page_path,
        opt={PUBLIC: True},
        include_in_schema=False,
        sync_to_thread=False,
    )
    def player(request: Request[Any, Any, Any]) -> Response[bytes] | Redirect:
        """The page. Its files are linked relative to it, so it must be addressed as a
        folder: ``/gosd/player`` redirects to ``/gosd/player/`` with its query kept."""
        if not request.scope.get("raw_path", b"/").endswith(b"/"):
            query = request.scope["query_string"].decode("latin-1")
            # Relative, so it holds behind a proxy that mounts gosd elsewhere.
            return Redirect("player/" + (f"?{query}" if query else ""))
        return Response(
            (PLAYER_DIR / "index.html").read_bytes(),
            media_type=MediaType.HTML,
            headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"},
        )

    @get(
        page_path + "/{name:path}",
        opt={PUBLIC: True},
        include_in_schema=False,
        sync_to_thread=False,
    )
    def player_file(name: FromPath[Path]) -> File:
        """One of the page's files, from the installed package."""
        relative = str(name).lstrip("/")
        media_type = FILES.get(relative)
        if media_type is None:
            raise NotFound(f"the player page has no file named {relative!r}")
        return File(
            PLAYER_DIR / relative,
            filename=Path(relative).name,
            media_type=media_type,
            content_disposition_type="inline",
            headers=SECURITY_HEADERS,
        )

    return [player, player_file]
