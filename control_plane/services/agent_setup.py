"""A complete edge agent configuration for a node, pointing at this control plane."""

from __future__ import annotations

from control_plane.settings import Settings, broker_url
from shared.agent_config import (
    AgentConfig,
    AgentSection,
    BrokerSection,
    ControlPlaneSection,
    DriverSection,
    NodeSection,
)


def broker_url_for_agents(settings: Settings) -> str:
    """The broker the control plane uses, as an agent reaches it (no credentials)."""
    if settings.mqtt_public_url:
        return settings.mqtt_public_url
    if settings.mqtt_url:
        url = broker_url(settings.mqtt_url)
        return f"{'mqtts' if url.tls else 'mqtt'}://{url.host}:{url.port}"
    return f"mqtt://{settings.mqtt_listen}"


def control_plane_url_for_agents(settings: Settings) -> str:
    return settings.public_url or f"http://127.0.0.1:8000{settings.base_path}"


def agent_config(settings: Settings, node_id: int, secret: str) -> AgentConfig:
    """What ``gosd agent --config`` needs to run the node as it is, with no editing.

    The driver is ``fake`` until the operator picks the vehicle's driver (``--driver``
    or ``[driver] kind``): only they know the autopilot's or the depot's address.
    """
    return AgentConfig(
        node=NodeSection(id=node_id, secret=secret),
        broker=BrokerSection(url=broker_url_for_agents(settings)),
        control_plane=ControlPlaneSection(url=control_plane_url_for_agents(settings)),
        # Beside the config file, one per node: configs of several nodes may share a dir.
        agent=AgentSection(data_dir=f"node-{node_id}-data"),
        driver=DriverSection(kind="fake"),
    )
