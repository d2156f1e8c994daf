"""A drone's state as telemetry: what is not known yet is left out, never sent as zero."""

from __future__ import annotations

import msgspec

from edge_agent.drivers.drone_telemetry import drone_samples
from edge_agent.drivers.vehicle import Landed, Mode, VehicleState


def as_dict(state: VehicleState, job: tuple[str, int] | None = None) -> dict[str, object]:
    return {s.name: msgspec.to_builtins(s.value) for s in drone_samples(state, job)}


def test_a_silent_vehicle_is_an_error_with_no_made_up_position() -> None:
    samples = as_dict(VehicleState())
    assert set(samples) == {"drone_status"}
    assert samples["drone_status"] == {
        "status": "error",
        "mode": "UNKNOWN",
        "armed": False,
        "gps": {},
        "battery": {},
    }


def test_a_flying_vehicle() -> None:
    state = VehicleState(
        connected=True,
        armed=True,
        landed=Landed.IN_AIR,
        mode=Mode.MISSION,
        mode_name="MISSION",
        lat_deg=47.39774212345,
        lon_deg=8.5455941,
        alt_amsl_m=503.456,
        height_m=15.456,
        heading_deg=-90.0,
        speed_m_s=4.987,
        battery_pct=87.54,
        voltage_v=16.1234,
        gps_fix=3,
        satellites=14,
        mission_current=2,
        mission_total=5,
    )
    samples = as_dict(state, ("10/1", 5))
    assert samples["drone_status"] == {
        "status": "flying",
        "mode": "MISSION",
        "speed": 4.99,
        "height": 15.46,
        "armed": True,
        "gps": {"type": 3, "satcount": 14},
        "battery": {"percent": 87.5, "voltage": 16.12},
    }
    assert samples["position"] == {
        "lat": 47.3977421,
        "lng": 8.5455941,
        "alt": 503.46,
        "height": 15.46,
        "heading": 270.0,
    }
    assert samples["battery"] == {"remain": 87.5, "voltage": 16.12}
    assert samples["mission"] == {"current": 2, "total": 5, "job": "10/1"}


def test_a_finished_mission_on_the_ground_is_standby() -> None:
    state = VehicleState(
        connected=True, landed=Landed.ON_GROUND, mission_current=4, mission_total=4
    )
    samples = as_dict(state)
    assert samples["drone_status"]["status"] == "standby"  # type: ignore[index]
    assert samples["mission"] == {"current": 4, "total": 4, "finished": True}
