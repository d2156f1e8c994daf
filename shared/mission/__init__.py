"""Mission files (QGroundControl ``.plan`` and ``QGC WPL 110``) to checked MAVLink items.

Pure Python (stdlib and msgspec, DESIGN §3): the control plane uses it to refuse a bad
file at plan create/update (422 with the location), the edge agent to upload it.
"""

from shared.mission.errors import MissionFileError
from shared.mission.file_keys import (
    MISSION_FILE_KEYS,
    MISSION_KEY,
    WAYPOINT_KEY,
    mission_file_key,
)
from shared.mission.items import MissionFile, MissionItem
from shared.mission.parse import parse_mission_file

__all__ = [
    "MISSION_FILE_KEYS",
    "MISSION_KEY",
    "WAYPOINT_KEY",
    "MissionFile",
    "MissionFileError",
    "MissionItem",
    "mission_file_key",
    "parse_mission_file",
]
