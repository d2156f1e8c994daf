"""amqtt 0.12 made safe for the fleet: our login and ACL plugins, and three holes closed.

Probing amqtt 0.12.1 showed (tests/integration/test_broker_acl.py keeps them shut):

1. **Retained messages leak.** On every connect amqtt sends the client the retained
   messages matching *every client's* subscriptions, past any ACL: node 1 got node 2's
   retained status without subscribing to anything. Only the client's own filters count
   here (each was checked by the ACL when it was subscribed).
2. **A wrong password takes over a session.** amqtt reads CONNECT, deletes (clean
   session) or rewrites (persistent session: username, password, will) the stored
   session of that client id, takes over a live connection of it, and only *then*
   refuses the password: anyone reaching the port could knock a node or the control
   plane off by its client id, or, as a node, borrow the control plane's username for
   its persistent session. Here the password is checked first and a refused CONNECT
   changes nothing (a rewritten stored session gets its logged-in values back). A
   persistent session also stays with the user who made it: another user naming its
   client id, even with a right password, is refused, since amqtt would hand them its
   subscriptions and queued messages (Mosquitto does not). So the control plane should
   use a client id nodes cannot guess, or they could squat on it first.
3. **Wills bypass the ACL.** amqtt publishes a will to any topic; a node could have sent
   RPC requests to another node by disconnecting. A login whose will topic the ACL
   does not let that user publish to is refused, as Mosquitto refuses it.

The ACL then asks who *logged in* (kept in ``Session.attributes``), never the username
the latest CONNECT claimed. These overrides lean on amqtt internals, which is why
pyproject pins amqtt below 0.13.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from amqtt.adapters import ReaderAdapter, WriterAdapter  # type: ignore[import-untyped]
from amqtt.broker import Broker, Server  # type: ignore[import-untyped]
from amqtt.contexts import Action, ListenerConfig  # type: ignore[import-untyped]
from amqtt.mqtt.connack import NOT_AUTHORIZED, ConnackPacket  # type: ignore[import-untyped]
from amqtt.mqtt.protocol.broker_handler import (  # type: ignore[import-untyped]
    BrokerProtocolHandler,
)
from amqtt.plugins.base import BaseAuthPlugin, BaseTopicPlugin  # type: ignore[import-untyped]
from amqtt.session import Session  # type: ignore[import-untyped]

from control_plane.messaging.acl import may_publish, may_subscribe

log = logging.getLogger(__name__)

Authenticate = Callable[[str, str], Awaitable[bool]]
"""``(username, password) -> allowed``."""

_LOGIN = "gosd.login"
"""``Session.attributes`` key of the ``Login`` that last succeeded on the session."""
_CHECKED = "gosd.checked"
"""``Session.attributes`` key set while a CONNECT's password check has already passed."""


@dataclass(frozen=True)
class Login:
    """Who logged in on a session, and the CONNECT values that came with the login."""

    username: str
    password: str | None
    will_flag: bool
    will_topic: str | None
    will_message: bytes | bytearray | None
    will_qos: int | None
    will_retain: bool | None
    keep_alive: int

    @classmethod
    def of(cls, session: Session) -> Login:
        return cls(
            username=session.username,
            password=session.password,
            will_flag=session.will_flag,
            will_topic=session.will_topic,
            will_message=session.will_message,
            will_qos=session.will_qos,
            will_retain=session.will_retain,
            keep_alive=session.keep_alive,
        )

    def restore(self, session: Session) -> None:
        session.username, session.password = self.username, self.password
        session.will_flag, session.will_topic = self.will_flag, self.will_topic
        session.will_message, session.will_qos = self.will_message, self.will_qos
        session.will_retain, session.keep_alive = self.will_retain, self.keep_alive


def logged_in_as(session: Session | None) -> str | None:
    """The username that logged in on ``session``; None before any login succeeded."""
    login = session.attributes.get(_LOGIN) if session is not None else None
    return login.username if isinstance(login, Login) else None


class GuardedBroker(Broker):  # type: ignore[misc]  # amqtt is untyped
    """amqtt's ``Broker`` with holes 1 and 2 of the module docstring closed."""

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        topic_filter = subscription[0]
        holders = self._subscriptions.get(topic_filter, ())
        if any(s.client_id == session.client_id for s, _ in holders):
            await super()._publish_retained_messages_for_subscription(subscription, session)

    async def _delete_session(self, client_id: str) -> None:
        """Called by amqtt while reading CONNECT: deferred until the password passed."""

    async def _handle_client_session(
        self,
        reader: ReaderAdapter,
        writer: WriterAdapter,
        client_session: Session,
        handler: BrokerProtocolHandler,
        server: Server,
        listener_name: str,
    ) -> None:
        listener = self.listeners_config[listener_name]
        # Set only when CONNECT named the client id of a stored session, which amqtt has
        # just rewritten with this CONNECT's username, password and will.
        previous = client_session.attributes.get(_LOGIN)
        allowed = await super()._authenticate(client_session, listener)
        if allowed and isinstance(previous, Login):
            allowed = previous.username == logged_in_as(client_session)
            if not allowed:
                log.warning(
                    "MQTT login of %r refused: client id %r holds a session of %r",
                    client_session.username,
                    client_session.client_id,
                    previous.username,
                )
        if not allowed:
            if isinstance(previous, Login):
                previous.restore(client_session)
                client_session.attributes[_LOGIN] = previous
            await ConnackPacket.build(0, NOT_AUTHORIZED).to_stream(writer)
            await writer.close()
            return
        if client_session.clean_session and client_session.client_id:
            await super()._delete_session(client_session.client_id)
        client_session.attributes[_CHECKED] = True
        await super()._handle_client_session(
            reader, writer, client_session, handler, server, listener_name
        )

    async def _authenticate(self, session: Session, listener: ListenerConfig) -> bool:
        # amqtt asks again inside _handle_client_session: answer from the check above.
        if session.attributes.pop(_CHECKED, False):
            return True
        return bool(await super()._authenticate(session, listener))


class PasswordCheck(BaseAuthPlugin):  # type: ignore[misc]  # amqtt is untyped
    """amqtt plugin: a username, the password the caller accepts and an allowed will.

    A client without a username is refused (amqtt would otherwise ignore this plugin's
    answer for it); so is every client while the check fails or times out.
    """

    @dataclass
    class Config:
        check: Any = None
        """The ``Authenticate`` coroutine function (typed loosely for amqtt's dacite)."""

    async def authenticate(self, *, session: Session) -> bool:
        username, password = session.username, session.password
        if not username:
            return False
        check: Authenticate = self.config.check
        try:
            allowed = bool(await check(username, password or ""))
        except TimeoutError:
            log.warning("MQTT login of %r refused: the password check timed out", username)
            return False
        except Exception:  # a failing check refuses the client, never the broker
            log.exception("MQTT login of %r refused: the password check failed", username)
            return False
        if allowed and session.will_flag and not may_publish(username, session.will_topic or ""):
            log.warning("MQTT login of %r refused: will on %r", username, session.will_topic)
            return False
        if allowed:
            session.attributes[_LOGIN] = Login.of(session)
        return allowed


class TopicAcl(BaseTopicPlugin):  # type: ignore[misc]  # amqtt is untyped
    """amqtt plugin: publish, subscribe and delivery follow ``acl.py``."""

    @dataclass
    class Config:
        pass

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool:
        username = logged_in_as(session)
        if username is None or topic is None:
            return False
        if action == Action.PUBLISH:
            return may_publish(username, topic)
        # SUBSCRIBE gets a filter, RECEIVE the topic of a message about to be delivered:
        # a node's allowed filters are plain topics, so one rule answers both.
        if action in (Action.SUBSCRIBE, Action.RECEIVE):
            return may_subscribe(username, topic)
        return False
