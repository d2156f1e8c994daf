"""The drone driver's settings: checked when the agent starts, refused with the key named."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.drivers import DriverConfigError, load_driver
from edge_agent.drivers.drone import DroneDriver
from edge_agent.drivers.drone_settings import DroneSettings, load_settings
from shared.mission.feasibility import MissionLimits


def test_the_defaults_connect_to_px4_sitl_and_hold_on_emergency() -> None:
    s = load_settings({})
    assert s == DroneSettings()
    assert s.connection == "udpin://0.0.0.0:14540"
    assert s.emergency_stop_action == "hold"


def test_the_mavsdk_kind_builds_the_drone_driver_without_connecting() -> None:
    driver = load_driver("mavsdk", {"connection": "serial:///dev/ttyACM0:57600"})
    assert isinstance(driver, DroneDriver)
    assert driver.describe()["type"] == "drone"
    assert driver.state.connected is False
    sample = driver.samples()[0]
    assert sample.name == "drone_status"
    assert sample.value.status == "error"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"conection": "udpin://0.0.0.0:1"}, "unknown field"),
        ({"connection": "localhost"}, "connection 'localhost' is not a URL"),
        ({"emergency_stop_action": "explode"}, "emergency_stop_action"),
        ({"vehicle_timeout_s": 0}, "vehicle_timeout_s must be > 0"),
        ({"telemetry_period_s": "fast"}, "telemetry_period_s"),
        ({"mission": {"takeoff_land_required": 9}}, "$.mission.takeoff_land_required"),
        ({"mission": {"max_first_waypoint": 5}}, "unknown field `max_first_waypoint`"),
    ],
)
def test_bad_settings_are_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(DriverConfigError) as refused:
        load_driver("mavsdk", settings)
    assert message in str(refused.value)


def test_the_mission_limits_are_px4s_unless_the_node_sets_its_own() -> None:
    assert load_settings({}).mission == MissionLimits()
    s = load_settings({"mission": {"max_first_waypoint_distance_m": 900, "below_home": "allow"}})
    assert s.mission == MissionLimits(max_first_waypoint_distance_m=900.0, below_home="allow")
