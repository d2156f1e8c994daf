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
from shared.enums import NodeType

PX4_SITL_API_PORT = 14540
"""Where PX4 SITL (instance 0) sends its API link, and ``gosd sim`` vehicle 0 too."""


def drone_connection(port: int = PX4_SITL_API_PORT) -> str:
    """The MAVSDK URL that listens where an autopilot sends (PX4 SITL instance i: 14540 + i)."""
    return f"udpin://0.0.0.0:{port}"


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


def agent_config(settings: Settings, node_id: int, secret: str, node_type: NodeType) -> AgentConfig:
    """What ``gosd agent --config`` needs to run the node as it is, with no editing.

    A drone (``air``) gets the MAVSDK driver listening where PX4 SITL and ``gosd sim``
    send (UDP 14540), so a simulated or SITL vehicle flies without edits; a real one
    needs only ``[driver.mavsdk] connection`` (a serial port, say). There is no depot
    driver yet: a depot gets ``fake``. Every kind's table is written (empty: its
    defaults), so ``gosd agent --driver fake`` on a drone's file runs with no edits.
    """
    driver = DriverSection(kind="fake")
    if node_type is NodeType.AIR:
        driver = DriverSection(kind="mavsdk", mavsdk={"connection": drone_connection()})
    return AgentConfig(
        node=NodeSection(id=node_id, secret=secret),
        broker=BrokerSection(url=broker_url_for_agents(settings)),
        control_plane=ControlPlaneSection(url=control_plane_url_for_agents(settings)),
        # Beside the config file, one per node: configs of several nodes may share a dir.
        agent=AgentSection(data_dir=f"node-{node_id}-data"),
        driver=driver,
    )
