"""Error codes both sides of the wire use: JSON-RPC errors and job failure reasons."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class RpcErrorCode(IntEnum):
    """JSON-RPC 2.0 standard codes, then the project's own (DESIGN §4.1)."""

    PARSE_ERROR = -32700
    INVALID_REQUEST = -32600
    METHOD_NOT_FOUND = -32601
    INVALID_PARAMS = -32602
    INTERNAL_ERROR = -32603
    BUSY = 1001
    INVALID_JOB = 1002
    UNSUPPORTED = 1003
    NOT_ARMABLE = 1004
    PREFLIGHT_FAILED = 1005
    VEHICLE_TIMEOUT = 1006
    UNKNOWN_JOB = 1007
    COMMAND_DENIED = 1008
    DOCK_ERROR = 1009

    @property
    def message(self) -> str:
        """The human message sent with the code."""
        return _RPC_MESSAGES[self]


_RPC_MESSAGES = {
    RpcErrorCode.PARSE_ERROR: "the request is not valid JSON",
    RpcErrorCode.INVALID_REQUEST: "the request is not a JSON-RPC 2.0 request",
    RpcErrorCode.METHOD_NOT_FOUND: "the agent does not serve this method",
    RpcErrorCode.INVALID_PARAMS: "the parameters do not fit the method",
    RpcErrorCode.INTERNAL_ERROR: "the agent failed while serving the request",
    RpcErrorCode.BUSY: "the node is running another job",
    RpcErrorCode.INVALID_JOB: "the job cannot be run as given",
    RpcErrorCode.UNSUPPORTED: "the node's driver cannot do this",
    RpcErrorCode.NOT_ARMABLE: "the vehicle cannot be armed",
    RpcErrorCode.PREFLIGHT_FAILED: "a preflight check failed",
    RpcErrorCode.VEHICLE_TIMEOUT: "the vehicle did not answer in time",
    RpcErrorCode.UNKNOWN_JOB: "the node is not running this job",
    RpcErrorCode.COMMAND_DENIED: "the vehicle refused the command",
    RpcErrorCode.DOCK_ERROR: "the dock is in error, silent, or reports values that cannot be",
}


class JobFailure(StrEnum):
    """Why a job failed or was cancelled: the ``reason`` of its last event."""

    NODE_OFFLINE = "node_offline"
    REJECTED = "rejected"
    FILE_FETCH_FAILED = "file_fetch_failed"
    CHECKSUM_MISMATCH = "checksum_mismatch"
    INVALID_JOB = "invalid_job"
    DRIVER_ERROR = "driver_error"
    AGENT_RESTARTED = "agent_restarted"
    CANCELLED = "cancelled"
    EMERGENCY_STOP = "emergency_stop"
    INVALID_MISSION = "invalid_mission"
    """The mission file does not parse, or the vehicle refused its upload."""
    PREFLIGHT_FAILED = "preflight_failed"
    """A preflight gate (GPS fix, home, armable, battery) did not pass; the detail names it."""
    LOW_BATTERY = "low_battery"
    """The vehicle's low-battery failsafe ended the mission."""
    GEOFENCE = "geofence"
    """The vehicle's geofence failsafe ended the mission."""
    VEHICLE_FAILSAFE = "vehicle_failsafe"
    """The vehicle left the mission on its own (another failsafe); the detail says how."""
    LINK_LOST = "link_lost"
    """The broker link was gone longer than the job's ``link_loss_timeout_s``."""
    VEHICLE_LOST = "vehicle_lost"
    """The autopilot stayed silent longer than the driver's ``vehicle_timeout_s``."""
    OPERATOR_ACTION = "operator_action"
    """A manual action (RPC ``action``) took the vehicle off the job's mission."""
    COMMAND_DENIED = "command_denied"
    """The vehicle refused a command the job needed (arm, takeoff, mission start)."""
    DOCK_ERROR = "dock_error"
    """A dock step failed, was refused, timed out, or the dock could not be trusted (silent,
    stale heartbeat, impossible register values); the detail names the step and the state."""
