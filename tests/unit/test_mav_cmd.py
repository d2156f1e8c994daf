"""``shared.mav_cmd`` writes MAVLink command numbers out for code without pymavlink (the
agent, the mission parser): each must be the number of its name in MAVLink's common set,
or in ArduPilot's dialect for the few ArduPilot-only commands mission files carry."""

from __future__ import annotations

from pymavlink.dialects.v20 import ardupilotmega as mavlink

from shared import mav_cmd
from shared.mission.items import COMMANDS_WITHOUT_LOCATION, POSITION_COMMANDS


def test_every_command_number_is_mavlinks() -> None:
    names = [n for n in vars(mav_cmd) if n.isupper()]
    assert "NAV_TAKEOFF" in names and "NAV_RALLY_POINT" in names
    for name in names:
        assert getattr(mav_cmd, name) == getattr(mavlink, f"MAV_CMD_{name}"), name


def test_a_command_is_named_with_its_number() -> None:
    assert mav_cmd.name(16) == "16 (NAV_WAYPOINT)"
    assert mav_cmd.name(218) == "218 (DO_AUX_FUNCTION)"
    assert mav_cmd.name(31337) == "31337", "an unknown number is shown as it is"


def test_commands_read_without_a_frame_are_those_mavlink_says_have_no_location() -> None:
    assert mav_cmd.NAV_RETURN_TO_LAUNCH in COMMANDS_WITHOUT_LOCATION
    for command in COMMANDS_WITHOUT_LOCATION:
        assert not mavlink.enums["MAV_CMD"][command].has_location, mav_cmd.name(command)
    for command in POSITION_COMMANDS:
        assert command not in COMMANDS_WITHOUT_LOCATION, mav_cmd.name(command)
