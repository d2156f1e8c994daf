from pathlib import Path

import pytest

from control_plane.settings import Settings, SettingsError
from shared.mission.feasibility import MissionLimits


def test_environment_is_read_and_overrides_win() -> None:
    s = Settings.from_env(
        {"GOSD_DATA_DIR": "/srv/gosd", "GOSD_ACCESS_TOKEN_TTL_S": "60", "OTHER": "x"},
        login_lockout_s=5,
    )
    assert s.data_dir == Path("/srv/gosd")
    assert s.access_token_ttl_s == 60
    assert s.login_lockout_s == 5
    assert s.effective_database_url == "sqlite:///srv/gosd/gosd.sqlite3"


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("GOSD_ACCESS_TOKEN_TTL_S", "soon", "whole number"),
        ("GOSD_UPLOAD_MAX_BYTES", "0", "positive"),
        ("GOSD_BASE_PATH", "gosd/", "start with '/'"),
        ("GOSD_DATABASE_URL", "mysql://x", "sqlite://"),
        ("GOSD_MISSION_MAX_FIRST_WAYPOINT_DISTANCE_M", "far", "must be a number"),
        ("GOSD_MISSION_MAX_WAYPOINT_DISTANCE_M", "-5", ">= 0"),
        ("GOSD_MISSION_TAKEOFF_LAND_REQUIRED", "6", "<= 5"),
        ("GOSD_MISSION_BELOW_HOME", "sometimes", "use refuse or allow"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError, match=name) as info:
        Settings.from_env({name: value})
    assert says in str(info.value)


def test_mission_limits_are_px4s_defaults_unless_set() -> None:
    assert Settings.from_env({}).mission_limits == MissionLimits()
    s = Settings.from_env(
        {
            "GOSD_MISSION_MAX_FIRST_WAYPOINT_DISTANCE_M": "900",
            "GOSD_MISSION_MAX_WAYPOINT_DISTANCE_M": "1500.5",
            "GOSD_MISSION_TAKEOFF_LAND_REQUIRED": "3",
            "GOSD_MISSION_BELOW_HOME": "allow",
        }
    )
    assert s.mission_limits == MissionLimits(
        max_first_waypoint_distance_m=900,
        max_waypoint_distance_m=1500.5,
        takeoff_land_required=3,
        below_home="allow",
    )
