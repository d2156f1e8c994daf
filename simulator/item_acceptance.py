"""Which items PX4's mission protocol stores, and the MAV_MISSION_RESULT it answers for the rest.

PX4 refuses an item at upload, before any flight logic sees it, when its frame or its
command is not one its parser knows; the whole upload fails and the previous list stays.
The simulator stands in for PX4 SITL (DESIGN §10), so it answers the same results for
the same items: a file a real PX4 refuses is refused here too, instead of "succeeding"
in simulation. What PX4 refuses later, before a mission may start, is in
``feasibility.py``.

The table mirrors ``parse_mavlink_mission_item()`` and the per-type checks of
``handle_mission_item_both()`` in PX4-Autopilot's ``src/modules/mavlink/mavlink_mission.cpp``
(main branch, PX4 v1.15 era). Keep it here, in one place, and change it only against
that source.
"""

from __future__ import annotations

from pymavlink.dialects.v20 import common as mavlink

from simulator.mission_items import MissionType, whole

M = mavlink
ACCEPTED: int = M.MAV_MISSION_ACCEPTED
UNSUPPORTED: int = M.MAV_MISSION_UNSUPPORTED
UNSUPPORTED_FRAME: int = M.MAV_MISSION_UNSUPPORTED_FRAME
INVALID_PARAM1: int = M.MAV_MISSION_INVALID_PARAM1
ERROR: int = M.MAV_MISSION_ERROR

FLOAT_POSITION_FRAMES = frozenset({M.MAV_FRAME_GLOBAL, M.MAV_FRAME_GLOBAL_RELATIVE_ALT})
"""Frames with a position PX4 takes in either message (AMSL, or above home)."""
INT_POSITION_FRAMES = frozenset({M.MAV_FRAME_GLOBAL_INT, M.MAV_FRAME_GLOBAL_RELATIVE_ALT_INT})
"""The ``_INT`` twins: PX4 takes them in MISSION_ITEM_INT only (in MISSION_ITEM they are
an unsupported frame). Terrain frames (10, 11) and local frames are never taken."""
MISSION_FRAME: int = M.MAV_FRAME_MISSION
"""MAV_FRAME_MISSION: items without a position (DO_*, CONDITION_*, RTL, delay)."""

POSITION_COMMANDS = frozenset(
    {
        M.MAV_CMD_NAV_WAYPOINT,
        M.MAV_CMD_NAV_LOITER_UNLIM,
        M.MAV_CMD_NAV_LOITER_TIME,
        M.MAV_CMD_NAV_LAND,
        M.MAV_CMD_NAV_TAKEOFF,
        M.MAV_CMD_NAV_LOITER_TO_ALT,
        M.MAV_CMD_NAV_ROI,
        M.MAV_CMD_DO_SET_ROI,
        M.MAV_CMD_DO_SET_ROI_LOCATION,
        M.MAV_CMD_NAV_VTOL_TAKEOFF,
        M.MAV_CMD_NAV_VTOL_LAND,
        M.MAV_CMD_CONDITION_GATE,
        M.MAV_CMD_NAV_FENCE_RETURN_POINT,
        M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
        M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        M.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
        M.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION,
        M.MAV_CMD_NAV_RALLY_POINT,
        M.MAV_CMD_COMPONENT_ARM_DISARM,
        M.MAV_CMD_DO_AUTOTUNE_ENABLE,
    }
)
"""Commands PX4 takes in a position frame. Anything else there is MAV_MISSION_UNSUPPORTED,
among them LOITER_TURNS, SPLINE_WAYPOINT, PAYLOAD_PLACE, ARC_WAYPOINT, command 0, and the
DO commands, which PX4 takes only in MAV_FRAME_MISSION."""

MISSION_FRAME_COMMANDS = frozenset(
    {
        M.MAV_CMD_DO_JUMP,
        M.MAV_CMD_NAV_ROI,
        M.MAV_CMD_DO_SET_ROI,
        M.MAV_CMD_DO_WINCH,
        M.MAV_CMD_DO_GRIPPER,
        M.MAV_CMD_DO_CHANGE_SPEED,
        M.MAV_CMD_DO_SET_HOME,
        M.MAV_CMD_DO_LAND_START,
        M.MAV_CMD_DO_TRIGGER_CONTROL,
        M.MAV_CMD_DO_DIGICAM_CONTROL,
        M.MAV_CMD_DO_MOUNT_CONFIGURE,
        M.MAV_CMD_DO_MOUNT_CONTROL,
        M.MAV_CMD_DO_GIMBAL_MANAGER_PITCHYAW,
        M.MAV_CMD_SET_CAMERA_FOCUS,
        M.MAV_CMD_DO_GIMBAL_MANAGER_CONFIGURE,
        M.MAV_CMD_IMAGE_START_CAPTURE,
        M.MAV_CMD_IMAGE_STOP_CAPTURE,
        M.MAV_CMD_VIDEO_START_CAPTURE,
        M.MAV_CMD_VIDEO_STOP_CAPTURE,
        M.MAV_CMD_DO_CONTROL_VIDEO,
        M.MAV_CMD_DO_SET_CAM_TRIGG_DIST,
        M.MAV_CMD_OBLIQUE_SURVEY,
        M.MAV_CMD_DO_SET_CAM_TRIGG_INTERVAL,
        M.MAV_CMD_SET_CAMERA_MODE,
        M.MAV_CMD_SET_CAMERA_SOURCE,
        M.MAV_CMD_DO_VTOL_TRANSITION,
        M.MAV_CMD_NAV_DELAY,
        M.MAV_CMD_NAV_RETURN_TO_LAUNCH,
        M.MAV_CMD_DO_SET_ROI_WPNEXT_OFFSET,
        M.MAV_CMD_DO_SET_ROI_NONE,
        M.MAV_CMD_CONDITION_DELAY,
        M.MAV_CMD_CONDITION_DISTANCE,
        M.MAV_CMD_DO_SET_ACTUATOR,
        M.MAV_CMD_DO_AUTOTUNE_ENABLE,
        M.MAV_CMD_COMPONENT_ARM_DISARM,
    }
)
"""Commands PX4 takes in MAV_FRAME_MISSION. Anything else there is MAV_MISSION_UNSUPPORTED
(CONDITION_YAW, DO_AUX_FUNCTION, JUMP_TAG, SET_CAMERA_ZOOM, a NAV_WAYPOINT without a
position...). Some of these pass the upload and fail the feasibility check instead."""

ROI_COMMANDS = frozenset({M.MAV_CMD_NAV_ROI, M.MAV_CMD_DO_SET_ROI})
ROI_MODES_WITH_POSITION = frozenset({M.MAV_ROI_NONE, M.MAV_ROI_LOCATION})
ROI_MODES_WITHOUT_POSITION = frozenset({M.MAV_ROI_NONE, M.MAV_ROI_WPNEXT, M.MAV_ROI_WPINDEX})
"""ROI modes (param1) PX4 takes in each kind of frame; any other is INVALID_PARAM1."""

NOT_IN_A_MISSION = frozenset(
    {
        M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION,
        M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION,
        M.MAV_CMD_NAV_FENCE_CIRCLE_INCLUSION,
        M.MAV_CMD_NAV_FENCE_CIRCLE_EXCLUSION,
        M.MAV_CMD_NAV_RALLY_POINT,
    }
)
"""Fence and rally commands: parsed, but refused in a *mission* upload with MAV_MISSION_ERROR
(PX4's guard against clients that mix the lists up)."""
POLYGON_VERTICES = frozenset(
    {M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_INCLUSION, M.MAV_CMD_NAV_FENCE_POLYGON_VERTEX_EXCLUSION}
)
MIN_POLYGON_VERTICES = 3
"""A fence polygon vertex whose count (param1) is below this is MAV_MISSION_ERROR."""


def upload_result(
    frame: int, command: int, param1: float, *, legacy: bool, mission_type: MissionType
) -> int:
    """MAV_MISSION_ACCEPTED, or the result PX4 answers an item with (ending the upload).

    ``legacy``: the item came as MISSION_ITEM (float degrees) rather than MISSION_ITEM_INT.
    """
    if frame in FLOAT_POSITION_FRAMES or (not legacy and frame in INT_POSITION_FRAMES):
        if command not in POSITION_COMMANDS:
            return UNSUPPORTED
        if command in ROI_COMMANDS and whole(param1, -1) not in ROI_MODES_WITH_POSITION:
            return INVALID_PARAM1
    elif frame == MISSION_FRAME:
        if command not in MISSION_FRAME_COMMANDS:
            return UNSUPPORTED
        if command in ROI_COMMANDS and whole(param1, -1) not in ROI_MODES_WITHOUT_POSITION:
            return INVALID_PARAM1
    else:
        return UNSUPPORTED_FRAME
    if mission_type is MissionType.MISSION and command in NOT_IN_A_MISSION:
        return ERROR
    # PX4 rounds a vertex's param1 to a count (+0.5, to uint16); NaN counts as none.
    too_few = whole(param1 + 0.5, 0) < MIN_POLYGON_VERTICES
    if mission_type is MissionType.FENCE and command in POLYGON_VERTICES and too_few:
        return ERROR
    return ACCEPTED
