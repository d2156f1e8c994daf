"""The MAVLink ``MAV_CMD`` numbers the project's own code needs, defined once.

The mission file parser (``shared.mission``), the edge agent and the control plane's
demo mission use these; none of them installs pymavlink (an agent needs MAVSDK only), so
the numbers are written out here, with the names of MAVLink's ``common.xml`` minus the
``MAV_CMD_`` prefix. The simulator has pymavlink and uses its enums instead.
"""

from __future__ import annotations

from typing import Final

NAV_WAYPOINT: Final = 16
"""Fly to a position (param2: acceptance radius, m)."""
NAV_LOITER_UNLIM: Final = 17
NAV_LOITER_TURNS: Final = 18
NAV_LOITER_TIME: Final = 19
NAV_RETURN_TO_LAUNCH: Final = 20
"""Return home and land: the vehicle changes to its RTL mode."""
NAV_LAND: Final = 21
"""Land at a position: the vehicle changes to its land mode."""
NAV_TAKEOFF: Final = 22
"""Take off to an altitude (z, m)."""
NAV_LOITER_TO_ALT: Final = 31
NAV_SPLINE_WAYPOINT: Final = 82
NAV_VTOL_TAKEOFF: Final = 84
NAV_VTOL_LAND: Final = 85
DO_JUMP: Final = 177
"""Jump to mission item param1, param2 times."""
DO_CHANGE_SPEED: Final = 178
"""Change the speed (param1: speed type, param2: speed, m/s)."""
DO_SET_ROI_LOCATION: Final = 195
NAV_FENCE_RETURN_POINT: Final = 5000
"""Where ArduPlane flies when it breaches its geofence (PX4 accepts it in a fence and
ignores it: its geofence action decides)."""
NAV_FENCE_POLYGON_VERTEX_INCLUSION: Final = 5001
"""A vertex of an inclusion polygon (param1: the polygon's vertex count)."""
NAV_FENCE_POLYGON_VERTEX_EXCLUSION: Final = 5002
"""A vertex of an exclusion polygon (param1: the polygon's vertex count)."""
NAV_FENCE_CIRCLE_INCLUSION: Final = 5003
"""An inclusion circle (param1: radius, m)."""
NAV_FENCE_CIRCLE_EXCLUSION: Final = 5004
"""An exclusion circle (param1: radius, m)."""
NAV_RALLY_POINT: Final = 5100
"""A rally point: a place to return to instead of home."""

# The commands below are here so mission checks (``shared.mission.feasibility``) can test
# for them and name them; the agent sends none of them itself.
NAV_LAND_LOCAL: Final = 23
NAV_TAKEOFF_LOCAL: Final = 24
NAV_CONTINUE_AND_CHANGE_ALT: Final = 30
NAV_ARC_WAYPOINT: Final = 36
NAV_ROI: Final = 80
NAV_ALTITUDE_WAIT: Final = 83
NAV_GUIDED_ENABLE: Final = 92
NAV_DELAY: Final = 93
NAV_PAYLOAD_PLACE: Final = 94
CONDITION_DELAY: Final = 112
CONDITION_CHANGE_ALT: Final = 113
CONDITION_DISTANCE: Final = 114
CONDITION_YAW: Final = 115
DO_SET_MODE: Final = 176
DO_SET_HOME: Final = 179
DO_SET_PARAMETER: Final = 180
DO_SET_RELAY: Final = 181
DO_REPEAT_RELAY: Final = 182
DO_SET_SERVO: Final = 183
DO_REPEAT_SERVO: Final = 184
DO_FLIGHTTERMINATION: Final = 185
DO_SET_ACTUATOR: Final = 187
DO_LAND_START: Final = 189
"""Marks where a mission's landing sequence starts (RTL may join the mission there)."""
DO_GO_AROUND: Final = 191
DO_REPOSITION: Final = 192
DO_PAUSE_CONTINUE: Final = 193
DO_SET_ROI_WPNEXT_OFFSET: Final = 196
DO_SET_ROI_NONE: Final = 197
DO_CONTROL_VIDEO: Final = 200
DO_SET_ROI: Final = 201
DO_DIGICAM_CONFIGURE: Final = 202
DO_DIGICAM_CONTROL: Final = 203
DO_MOUNT_CONFIGURE: Final = 204
DO_MOUNT_CONTROL: Final = 205
DO_SET_CAM_TRIGG_DIST: Final = 206
DO_FENCE_ENABLE: Final = 207
DO_PARACHUTE: Final = 208
DO_GRIPPER: Final = 211
DO_AUTOTUNE_ENABLE: Final = 212
NAV_SET_YAW_SPEED: Final = 213
DO_SET_CAM_TRIGG_INTERVAL: Final = 214
DO_SET_RESUME_REPEAT_DIST: Final = 215
DO_SPRAYER: Final = 216
DO_SEND_SCRIPT_MESSAGE: Final = 217
DO_AUX_FUNCTION: Final = 218
DO_GUIDED_LIMITS: Final = 222
DO_ENGINE_CONTROL: Final = 223
DO_SET_MISSION_CURRENT: Final = 224
OBLIQUE_SURVEY: Final = 260
COMPONENT_ARM_DISARM: Final = 400
SET_CAMERA_MODE: Final = 530
SET_CAMERA_ZOOM: Final = 531
SET_CAMERA_FOCUS: Final = 532
SET_CAMERA_SOURCE: Final = 534
JUMP_TAG: Final = 600
DO_JUMP_TAG: Final = 601
DO_GIMBAL_MANAGER_PITCHYAW: Final = 1000
DO_GIMBAL_MANAGER_CONFIGURE: Final = 1001
IMAGE_START_CAPTURE: Final = 2000
IMAGE_STOP_CAPTURE: Final = 2001
DO_TRIGGER_CONTROL: Final = 2003
VIDEO_START_CAPTURE: Final = 2500
VIDEO_STOP_CAPTURE: Final = 2501
DO_VTOL_TRANSITION: Final = 3000
CONDITION_GATE: Final = 4501
DO_WINCH: Final = 42600
NAV_SCRIPT_TIME: Final = 42702
NAV_ATTITUDE_TIME: Final = 42703


def _names() -> dict[int, str]:
    return {v: k for k, v in globals().items() if k.isupper() and isinstance(v, int)}


_by_number = _names()


def name(command: int) -> str:
    """``"16 (NAV_WAYPOINT)"`` for people: the number, and the name where it is known here."""
    known = _by_number.get(command)
    return f"{command} ({known})" if known else str(command)
