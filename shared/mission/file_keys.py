"""Which ``files`` keys of a plan or job hold its mission file (DESIGN §6).

The control plane parses the blob under these keys at plan write (a file that cannot be
flown is a 422), and the agent uploads the one it finds first; both read this module,
so a key the control plane checked is the key the agent flies.
"""

from __future__ import annotations

from collections.abc import Iterable

MISSION_KEY = "mission"
"""The preferred key: a QGroundControl ``.plan`` or a ``QGC WPL 110`` file."""
WAYPOINT_KEY = "waypoint"
"""The original gosd's key, still read: the same two formats."""
MISSION_FILE_KEYS = (MISSION_KEY, WAYPOINT_KEY)
"""Mission file keys, in order of preference; other ``files`` keys are free job inputs."""


def mission_file_key(keys: Iterable[str]) -> str | None:
    """The key among ``keys`` whose file is the mission (``mission`` before ``waypoint``)."""
    present = set(keys)
    return next((key for key in MISSION_FILE_KEYS if key in present), None)
