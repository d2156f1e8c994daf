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
DO_SET_ROI_WPNEXT_OFFSET: Final = 196
DO_SET_ROI_NONE: Final = 197
DO_SET_ROI: Final = 201
DO_MOUNT_CONTROL: Final = 205
DO_SET_CAM_TRIGG_DIST: Final = 206
"""Trigger the camera every param1 metres (0: stop)."""
DO_SET_CAM_TRIGG_INTERVAL: Final = 214
DO_GIMBAL_MANAGER_PITCHYAW: Final = 1000
IMAGE_START_CAPTURE: Final = 2000
IMAGE_STOP_CAPTURE: Final = 2001
VIDEO_START_CAPTURE: Final = 2500
VIDEO_STOP_CAPTURE: Final = 2501
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
