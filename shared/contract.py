"""The machine-readable contract of the wire protocol: an AsyncAPI 2.6 document.

It is generated from the topic builders and message types, kept in the repository as
``shared/contract.json`` (``python -m shared.contract --write``) and served by the
control plane; a test fails when the file drifts from the code.
"""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from typing import Any

import msgspec

from shared import messages as m
from shared.messages import PROTOCOL_VERSION

CONTRACT_PATH = Path(__file__).with_name("contract.json")

_AGENT, _CONTROL_PLANE = "agent", "control plane"

# (channel, publisher, qos, retain, payload types, description)
_CHANNELS: list[tuple[str, str, int, bool, tuple[Any, ...], str]] = [
    (
        "nodes/{node_id}/status",
        _AGENT,
        1,
        True,
        (m.NodeStatus,),
        "Birth (code 0), clean exit (1) and last will (2) of the node's agent.",
    ),
    (
        "nodes/{node_id}/rpc/send",
        _CONTROL_PLANE,
        1,
        False,
        (m.RpcRequest,),
        "JSON-RPC 2.0 requests to the agent: job_start, job_cancel, emergency_stop, action, "
        "history, ping. A repeated id is answered from the agent's cache, not run again.",
    ),
    (
        "nodes/{node_id}/rpc/recv",
        _AGENT,
        1,
        False,
        (m.RpcResponse,),
        "JSON-RPC 2.0 responses of the agent.",
    ),
    (
        "nodes/{node_id}/msg/{name}",
        _AGENT,
        0,
        True,
        (*m.TELEMETRY.values(), dict),
        "Latest-value telemetry; shapes for the known names, any JSON object otherwise.",
    ),
    (
        "nodes/{node_id}/network",
        _AGENT,
        0,
        True,
        (m.Network,),
        "Link quality between the agent and the broker.",
    ),
    (
        "nodes/{node_id}/events",
        _AGENT,
        1,
        False,
        (m.JobEvent,),
        "Job lifecycle events, numbered per node; re-published until acknowledged.",
    ),
    (
        "nodes/{node_id}/events/ack",
        _CONTROL_PLANE,
        1,
        False,
        (m.EventAck,),
        "Everything up to seq is stored.",
    ),
    (
        "plans/{plan_id}/running",
        _CONTROL_PLANE,
        1,
        True,
        (m.PlanRunning,),
        "The plan's running job, or {} when none runs.",
    ),
]

_RPC_PARAMS: dict[str, Any] = {
    "job_start": m.JobStartParams,
    "job_cancel": m.JobCancelParams,
    "history": m.HistoryParams,
    "action": m.ActionParams,
    "livestream_start": m.LivestreamParams,
    "livestream_stop": m.LivestreamParams,
}


def _clean_descriptions(node: Any) -> Any:
    """``node`` with every ``description`` dedented by us (``inspect.cleandoc``).

    msgspec copies Struct docstrings into schemas, and how it trims them changed between
    its minor versions (0.23 keeps the indentation): cleaning them here keeps the document
    a function of our text alone, so the drift test fails only when the protocol changed.
    """
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value)
            if key == "description" and isinstance(value, str)
            else _clean_descriptions(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_clean_descriptions(value) for value in node]
    return node


def build() -> dict[str, Any]:
    """The AsyncAPI document, deterministic for a given code."""
    payload_types = [t for *_, types, _ in _CHANNELS for t in types if t is not dict]
    schemas, components = msgspec.json.schema_components(
        payload_types + list(_RPC_PARAMS.values()), ref_template="#/components/schemas/{name}"
    )
    schemas, components = _clean_descriptions(list(schemas)), _clean_descriptions(components)
    channels: dict[str, Any] = {}
    for index, (name, publisher, qos, retain, types, description) in enumerate(_CHANNELS):
        payloads = [
            {"type": "object"} if t is dict else schemas[payload_types.index(t)] for t in types
        ]
        payload = payloads[0] if len(payloads) == 1 else {"oneOf": payloads}
        operation = "subscribe" if publisher == _AGENT else "publish"
        channels[name] = {
            "description": f"{description} Published by the {publisher}.",
            operation: {
                "operationId": f"op{index}",
                "bindings": {"mqtt": {"qos": qos, "retain": retain}},
                "message": {"contentType": "application/json", "payload": payload},
            },
        }
    return {
        "asyncapi": "2.6.0",
        "info": {
            "title": "gosd wire protocol",
            "version": str(PROTOCOL_VERSION),
            "description": "MQTT 3.1.1 topics between the gosd control plane and its edge "
            "agents. 'subscribe' operations are what the control plane receives, 'publish' "
            "what it sends.",
        },
        "channels": channels,
        "components": {
            "schemas": components,
            "x-rpc-params": {
                method: schemas[len(payload_types) + i] for i, method in enumerate(_RPC_PARAMS)
            },
        },
    }


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write {CONTRACT_PATH.name}")
    if parser.parse_args().write:
        CONTRACT_PATH.write_text(render(), encoding="utf-8")
    else:
        print(render(), end="")


if __name__ == "__main__":
    main()
