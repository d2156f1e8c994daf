"""Run-time fault injection for one simulated vehicle.

Tests and the ``gosd sim --control`` socket use the same object, so a fault injected
from a shell behaves exactly like one injected from a test. GPS loss and battery act on
the vehicle model; packet loss, link cut and command rejection act on its MAVLink link.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from simulator.vehicle import Vehicle

MESSAGE_SERVICE_COMMANDS = frozenset({511, 512, 520})
"""SET_MESSAGE_INTERVAL, REQUEST_MESSAGE, REQUEST_AUTOPILOT_CAPABILITIES: never rejected
by ``reject all`` so the link itself keeps working (reject them by id if wanted)."""


@dataclass
class Faults:
    """The faults currently injected into one vehicle."""

    vehicle: Vehicle
    packet_loss: float = 0.0
    """Probability in [0, 1] that a datagram is dropped, in each direction."""
    link_cut: bool = False
    """Drop every datagram both ways."""
    reject_all: bool = False
    """Answer every command (but the message-service ones) DENIED."""
    rejected_commands: frozenset[int] = frozenset()
    """MAV_CMD ids answered DENIED."""
    drop_next_in: int = 0
    """Drop exactly this many of the next datagrams from the GCS (a loss burst a test can
    count on, where random loss makes MAVSDK's own retries run out now and then)."""
    rng: random.Random = field(default_factory=lambda: random.Random(0))  # noqa: S311 - simulation, not crypto
    dropped_in: int = 0
    """Datagrams from the GCS dropped by packet loss or link cut."""
    dropped_out: int = 0
    """Datagrams to the GCS dropped by packet loss or link cut."""

    @property
    def dropped(self) -> int:
        return self.dropped_in + self.dropped_out

    def set_packet_loss(self, probability: float) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError("packet loss must be within 0..1")
        self.packet_loss = probability

    def set_gps_loss(self, lost: bool) -> None:
        self.vehicle.gps_lost = lost

    def set_battery(self, pct: float) -> None:
        if not 0.0 <= pct <= 100.0:
            raise ValueError("battery must be within 0..100 %")
        self.vehicle.set_battery(pct)

    def set_rejected(self, commands: frozenset[int] | None, reject_all: bool = False) -> None:
        """Reject these command ids (``None``: none), or all commands."""
        self.reject_all = reject_all
        self.rejected_commands = commands or frozenset()

    def rejects(self, command: int) -> bool:
        if command in self.rejected_commands:
            return True
        return self.reject_all and command not in MESSAGE_SERVICE_COMMANDS

    def drops(self, inbound: bool) -> bool:
        """Whether this datagram (from the GCS when ``inbound``) is lost (counted)."""
        lost = self.link_cut or (self.packet_loss > 0 and self.rng.random() < self.packet_loss)
        if inbound and not lost and self.drop_next_in > 0:
            self.drop_next_in -= 1
            lost = True
        if lost and inbound:
            self.dropped_in += 1
        elif lost:
            self.dropped_out += 1
        return lost

    def describe(self) -> dict[str, object]:
        return {
            "packet_loss": self.packet_loss,
            "link_cut": self.link_cut,
            "gps_loss": self.vehicle.gps_lost,
            "reject_commands": "all" if self.reject_all else sorted(self.rejected_commands),
            "dropped": self.dropped,
        }
