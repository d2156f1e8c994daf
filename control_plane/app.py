"""The composition root: ``create_app(settings)`` builds the whole control plane."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from litestar import Litestar, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from control_plane.api.auth import (
    PUBLIC,
    BearerAuthMiddleware,
    people_only,
    provide_call,
    provide_principal,
    provide_services,
)
from control_plane.api.blobs import BlobsController
from control_plane.api.docs_page import docs_page
from control_plane.api.errors import EXCEPTION_HANDLERS
from control_plane.api.health import ok
from control_plane.api.jobs import JobsController
from control_plane.api.live import LiveController
from control_plane.api.nodes import NodesController, NodesV1Controller
from control_plane.api.oauth import revoke, token
from control_plane.api.plans import PlansController
from control_plane.api.player_page import player_page
from control_plane.api.protocol import mqtt_contract
from control_plane.api.users import current_user
from control_plane.api.video import VideoController
from control_plane.db.lifecycle import open_database
from control_plane.live.hub import LiveHub
from control_plane.messaging.live_demand import AgentLiveDemand
from control_plane.messaging.runtime import Messaging
from control_plane.services.clock import Clock, utc_now
from control_plane.services.container import Services
from control_plane.settings import Settings

VERSION = "0.1.0"
DEFAULT_BODY_LIMIT = 1024 * 1024
"""Body cap for every route but the upload routes, which get ``upload_max_bytes``."""


def create_app(settings: Settings, *, clock: Clock = utc_now) -> Litestar:
    """Build the ASGI app; the database opens (and migrates), then the MQTT side starts
    (embedded broker, bridge, dispatcher), in its lifespan."""

    @contextlib.asynccontextmanager
    async def database(app: Litestar) -> AsyncIterator[None]:
        async with open_database(settings.effective_database_url):
            yield

    services = Services.create(settings, clock)
    messaging = Messaging(settings, services, clock)

    @contextlib.asynccontextmanager
    async def mqtt(app: Litestar) -> AsyncIterator[None]:
        await messaging.start()
        try:
            yield
        finally:
            await messaging.stop()

    hub = LiveHub(settings.relay_config, AgentLiveDemand(messaging))

    @contextlib.asynccontextmanager
    async def live(app: Litestar) -> AsyncIterator[None]:
        # The relay's on-demand calls to agents run here, off the viewers' requests.
        async with asyncio.TaskGroup() as group:
            runner = group.create_task(hub.run())
            try:
                yield
            finally:
                runner.cancel()

    uploads = Router(
        path="/",
        route_handlers=[BlobsController, PlansController, JobsController],
        request_max_body_size=settings.upload_max_bytes,
    )
    # The routes that need no token sit outside the secured router, so the API
    # document asks no bearer token of them.
    public = Router(path=settings.base_path, route_handlers=[ok, mqtt_contract, token, revoke])
    api = Router(
        path=settings.base_path,
        route_handlers=[
            current_user,
            NodesV1Controller,
            NodesController,
            LiveController,
            VideoController,
            uploads,
        ],
        guards=[people_only],
        security=[{"bearer": []}],
    )
    schema_path = settings.base_path + "/schema"
    docs = docs_page(settings.base_path)
    return Litestar(
        route_handlers=[public, api, docs.assets, *player_page(settings.base_path)],
        lifespan=[database, mqtt, live],
        dependencies={
            "principal": Provide(provide_principal),
            "services": Provide(provide_services),
            "call": Provide(provide_call),
        },
        middleware=[
            DefineMiddleware(
                BearerAuthMiddleware, exclude=[f"^{schema_path}"], exclude_from_auth_key=PUBLIC
            )
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        # Logging is the process's business (gosd's CLI sets it up); Litestar's own
        # configuration would replace the root logger's format.
        logging_config=None,
        request_max_body_size=DEFAULT_BODY_LIMIT,
        openapi_config=OpenAPIConfig(
            title="gosd control plane",
            version=VERSION,
            path=schema_path,
            render_plugins=docs.render_plugins,
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="An access token from /oauth/token",
                    )
                }
            ),
        ),
        state=State(
            {"services": services, "settings": settings, "messaging": messaging, "live": hub}
        ),
        debug=False,
    )
