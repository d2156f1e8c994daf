"""Who may publish and subscribe to what on the broker (DESIGN §7).

One set of rules, written once: the embedded broker asks these functions on every
publish, subscribe and delivery, and the Mosquitto ACL file is generated from the same
topic builders, so the two brokers cannot drift apart. Anything not allowed here is
denied, including every username that is neither the control plane nor a node.
"""

from __future__ import annotations

from shared import topics
from shared.topics import CONTROL_PLANE_USERNAME, NODE_PUBLISHES, NODE_SUBSCRIBES


def may_publish(username: str, topic: str) -> bool:
    """Whether ``username`` may publish to ``topic`` (a topic name, never a filter).

    A node publishes only its own topics of the kinds in ``NODE_PUBLISHES``; the parser
    refuses wildcards, ``$`` topics, extra levels and non-canonical ids such as ``01``.
    """
    if username == CONTROL_PLANE_USERNAME:
        return True
    node_id = topics.node_id_of_username(username)
    if node_id is None:
        return False
    parsed = topics.parse(topic)
    return parsed is not None and parsed.node_id == node_id and parsed.kind in NODE_PUBLISHES


def may_subscribe(username: str, topic_filter: str) -> bool:
    """Whether ``username`` may subscribe to ``topic_filter``.

    A node gets exactly its own ``rpc/send`` and ``events/ack`` and no wildcard at all:
    a filter that merely *contains* its topics (``nodes/1/#``) would also cover topics of
    kinds it must not read, and comparing whole strings leaves nothing to get wrong.
    Since such a filter is a plain topic, this also answers "may it receive ``topic``".
    """
    if username == CONTROL_PLANE_USERNAME:
        return True
    node_id = topics.node_id_of_username(username)
    if node_id is None:
        return False
    return topic_filter in node_subscriptions(node_id)


def node_publications(node_id: int) -> tuple[str, ...]:
    """The topics (``msg/+`` as a filter) node ``node_id`` may publish, for broker ACL files."""
    return tuple(topics.node_filter(kind, node_id) for kind in sorted(NODE_PUBLISHES))


def node_subscriptions(node_id: int) -> tuple[str, ...]:
    """The exact filters node ``node_id`` may subscribe to."""
    return tuple(topics.node_filter(kind, node_id) for kind in sorted(NODE_SUBSCRIBES))
