"""Enumerations both sides of the wire use with the same spelling."""

from __future__ import annotations

from enum import StrEnum


class NodeType(StrEnum):
    """What a node is: the seed calls a drone ``air``."""

    AIR = "air"
    DEPOT = "depot"


class JobStatus(StrEnum):
    """Lifecycle of a job (DESIGN §4.2).

    ``queued`` exists only in the control plane; the agent reports the others.
    """

    QUEUED = "queued"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    PREPARING = "preparing"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """A terminal job never changes state again."""
        return self in _TERMINAL


_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})
ACTIVE_JOB_STATUSES: tuple[JobStatus, ...] = tuple(s for s in JobStatus if s not in _TERMINAL)
