"""The MQTT wire protocol's machine-readable contract (AsyncAPI), for agent authors."""

from __future__ import annotations

from typing import Any

from litestar import get

from control_plane.api.auth import PUBLIC
from control_plane.api.openapi_docs import documented
from shared.contract import build

_CONTRACT = build()


@get(
    "/api/v2/protocol/asyncapi.json",
    operation_id="mqtt_contract",
    tags=["live"],
    opt={PUBLIC: True},
    summary="MQTT contract (AsyncAPI)",
    **documented(),
)
async def mqtt_contract() -> dict[str, Any]:
    """The topics, payload schemas, QoS and retain flags of the MQTT protocol, as
    ``shared/contract.json`` in the repository; needs no token, like the API document."""
    return _CONTRACT
