"""Live video of ``livestream_flv`` points: a node publishes FLV, people watch it.

``PUT .../points/{point_id}/live.flv`` takes a node's chunked FLV body and feeds the
relay (``control_plane.live``) tag by tag, each checked; ``GET`` the same path serves
HTTP-FLV to a person of the node's group, with a bearer token or a signed ``?token=``
from ``POST .../live-token`` (players in browsers cannot send headers).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.params import FromPath, QueryParameter
from litestar.response import Stream

from control_plane.api.auth import NODES_ALLOWED, PUBLIC, CallDep
from control_plane.api.openapi_docs import BINARY, documented
from control_plane.api.params import PathId
from control_plane.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    InvalidStream,
    NotFound,
    PermissionDenied,
    StreamUnavailable,
)
from control_plane.live.channel import ChannelKey
from control_plane.live.hub import LiveHub, LiveUnavailable
from control_plane.live.viewer import Viewer
from control_plane.services import live_video
from control_plane.services.container import Services
from control_plane.services.live_video import ViewerToken
from control_plane.services.principal import Principal
from shared.flv import FlvError, FlvParser

FLV = "video/x-flv"
LIVE_PATH = "/{node_id:int}/points/{point_id:int}/live.flv"


def _hub(request: Request[Any, Any, Any]) -> LiveHub:
    hub: LiveHub = request.app.state.live
    return hub


async def _flow(hub: LiveHub, key: ChannelKey, viewer: Viewer) -> AsyncIterator[bytes]:
    """A viewer's queue, batch by batch, until the channel ends it or the player leaves."""
    try:
        while (batch := await viewer.next_batch()) is not None:
            yield batch
    finally:
        hub.leave(key, viewer)


class VideoController(Controller):
    path = "/api/v2/nodes"
    tags = ["video"]

    @put(
        LIVE_PATH,
        operation_id="publish_live_video",
        summary="Publish a point's live video (node)",
        status_code=204,
        opt={NODES_ALLOWED: True},
        request_max_body_size=None,
        **documented(
            NotFound,
            Conflict,
            InvalidStream,
            # Any content type is read as FLV; octet-stream is how generic clients send it.
            body={FLV: BINARY, "application/octet-stream": BINARY},
            more_errors={
                400: "The stream is not FLV with H.264 the relay passes on (the message "
                "names the fault, its byte offset and tag)",
                409: "The point is not a livestream_flv point, or a newer connection "
                "of the node replaced this one",
            },
        ),
    )
    async def publish(
        self,
        request: Request[Any, Any, Any],
        call: CallDep,
        node_id: FromPath[PathId],
        point_id: FromPath[PathId],
    ) -> None:
        """A node's FLV stream (chunked, no size limit) for its own live point: relayed
        to the point's viewers as it arrives. 204 when the body ends cleanly; 400 as
        soon as it is malformed; 409 when a newer connection of the node replaces this
        one (an agent reconnecting after a network cut is never locked out)."""
        await live_video.check_publisher(call.principal, node_id, point_id)
        hub = _hub(request)
        task = asyncio.current_task()
        publication = hub.publish((node_id, point_id), task)
        parser = FlvParser(max_tag_bytes=hub.config.max_tag_bytes)
        try:
            async for chunk in request.stream():
                for item in parser.feed(chunk):
                    publication.push(item)
            parser.finish()
        except FlvError as exc:
            raise InvalidStream(str(exc), offset=exc.offset, tag=exc.tag) from None
        except asyncio.CancelledError:
            if publication.replaced and task is not None and task.uncancel() == 0:
                raise Conflict("replaced by a newer connection") from None
            raise
        finally:
            publication.end()

    @get(
        LIVE_PATH,
        operation_id="watch_live_video",
        summary="Watch a point's live video (HTTP-FLV)",
        opt={PUBLIC: True},
        **documented(
            NotFound,
            StreamUnavailable,
            answers={FLV: BINARY},
            more_errors={
                401: "No usable bearer token or viewer token",
                503: "The stream did not start: the node is offline, or its agent did not "
                "start it in time (the message says which)",
            },
        ),
    )
    async def watch(
        self,
        request: Request[Any, Any, Any],
        node_id: FromPath[PathId],
        point_id: FromPath[PathId],
        token: Annotated[
            str | None,
            QueryParameter(
                name="token",
                max_length=200,
                description="A viewer token from live-token, for players that cannot send "
                "an Authorization header",
            ),
        ] = None,
    ) -> Stream:
        """The point's video as HTTP-FLV, starting with the header, metadata, codec
        configuration and the frames from the latest key frame (the picture starts at
        once). A node that is not streaming is asked to start; the answer waits for it
        (``GOSD_LIVE_WAIT_S``). The response ends a while after the publisher left."""
        services: Services = request.app.state.services
        viewer_principal = await _viewer(request, services, token, node_id, point_id)
        await live_video.check_viewer(viewer_principal, node_id, point_id)
        hub, key = _hub(request), (node_id, point_id)
        try:
            viewer = await hub.watch(key, viewer_principal.name)
        except LiveUnavailable as exc:
            raise StreamUnavailable(str(exc)) from None
        return Stream(
            _flow(hub, key, viewer),
            media_type=FLV,
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    @post(
        "/{node_id:int}/points/{point_id:int}/live-token",
        operation_id="create_live_token",
        summary="A signed viewer URL for a point's live video",
        status_code=200,
        **documented(NotFound, InvalidInput),
    )
    async def live_token(
        self,
        call: CallDep,
        node_id: FromPath[PathId],
        point_id: FromPath[PathId],
        ttl_s: Annotated[
            int | None,
            QueryParameter(name="ttl_s", ge=1, description="Lifetime, seconds (default 60)"),
        ] = None,
    ) -> ViewerToken:
        """A token (and the viewer URL carrying it as ``?token=``) that lets a player
        without headers watch the point; checked when the player connects."""
        return await call.services.live_tokens.mint(call.principal, node_id, point_id, ttl_s)


async def _viewer(
    request: Request[Any, Any, Any],
    services: Services,
    token: str | None,
    node_id: int,
    point_id: int,
) -> Principal:
    """The person watching: from the Authorization header, else from ``?token=``."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, bearer = header.partition(" ")
        if scheme.lower() != "bearer" or not bearer.strip():
            raise AuthenticationFailed(
                "the Authorization header must be 'Bearer <token>'", bearer_error="invalid_request"
            )
        principal = await services.auth.authenticate(bearer.strip())
        if not principal.is_user:
            raise PermissionDenied("a node's token cannot watch video")
        return principal
    if token:
        return await services.live_tokens.viewer_of(token, node_id, point_id)
    raise AuthenticationFailed("this needs a bearer token or a viewer token", bearer_error=None)
