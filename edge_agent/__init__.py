"""The gosd edge agent: runs on each drone companion computer and depot (DESIGN §1).

Run it with the node's configuration file (``shared.agent_config``)::

    gosd agent --config agent.toml [--driver fake] [--log-level INFO]

Modules: ``cli`` (entry point) -> ``supervisor`` (composition root, one task group) ->
``link`` (MQTT connection, birth/will, reconnect), ``rpc`` (JSON-RPC server), ``executor``
(one job at a time), ``fetcher`` (job files over HTTP), ``outbox`` (durable events),
``events`` (publishing them until acked), ``telemetry``, ``network`` (link quality);
``drivers`` hold what the agent controls. Nothing here imports the control plane.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("gosd")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
