"""Who may log in to the embedded broker: the control plane itself, and live nodes.

The control plane's account is not in the database (its password comes from
``GOSD_MQTT_URL`` or is made up at start); node accounts are checked against the
stored secret hashes on every connect, so a removed node or a rotated secret locks
the old credentials out at the next connection.
"""

from __future__ import annotations

import hmac

from control_plane.messaging.amqtt_broker import Authenticate
from control_plane.services.nodes import check_broker_password
from shared.topics import CONTROL_PLANE_USERNAME


def broker_login(control_plane_password: str) -> Authenticate:
    """The ``authenticate`` coroutine function to give ``EmbeddedBroker``."""
    expected = control_plane_password.encode()

    async def authenticate(username: str, password: str) -> bool:
        if username == CONTROL_PLANE_USERNAME:
            return bool(expected) and hmac.compare_digest(password.encode(), expected)
        return await check_broker_password(username, password)

    return authenticate
