"""What each vehicle did, sampled in simulated time, so a test can ask afterwards how it
flew (the lowest height between two items, the path it took) instead of polling fast
enough to catch it in the act.

A sample is taken at most every ``PERIOD_S`` simulated seconds, after a physics tick; the
log keeps the last ``KEEP`` samples (an hour at the default period). Read it through the
control socket (``track``) or ``gosd sim fault track``.
"""

from __future__ import annotations

import math
from collections import deque

from simulator.vehicle import Vehicle

PERIOD_S = 0.2
"""Simulated seconds between samples."""
KEEP = 18_000
"""Samples kept per vehicle (the oldest go first)."""
MAX_ANSWER = 5_000
"""Samples in one answer; ask again from the last one's time for more."""
FIELDS = ("sim_time_s", "mission_seq", "rel_alt_m", "lat_deg", "lon_deg", "mode", "armed")
"""The columns of a sample, in order."""

Sample = tuple[float, int, float, float, float, str, bool]


class FlightLog:
    """The sampled history of one vehicle."""

    def __init__(self, vehicle: Vehicle) -> None:
        self.vehicle = vehicle
        self.samples: deque[Sample] = deque(maxlen=KEEP)
        self._next_s = -math.inf

    def record(self) -> None:
        """Take a sample if one is due (called after each physics tick)."""
        v = self.vehicle
        if v.sim_time_s < self._next_s:
            return
        self._next_s = v.sim_time_s + PERIOD_S
        self.samples.append(
            (
                round(v.sim_time_s, 3),
                v.mission_seq,
                round(v.rel_alt_m, 3),
                round(v.lat_deg, 7),
                round(v.lon_deg, 7),
                v.mode.name,
                v.armed,
            )
        )

    def since(self, sim_time_s: float) -> list[Sample]:
        """Samples taken after ``sim_time_s``, oldest first, at most ``MAX_ANSWER``."""
        found: list[Sample] = []
        for sample in self.samples:
            if sample[0] > sim_time_s:
                found.append(sample)
                if len(found) == MAX_ANSWER:
                    break
        return found
