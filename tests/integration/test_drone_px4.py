"""The same flight against a real PX4 SITL, when one is reachable (marker ``px4``).

No PX4 SITL can be installed from the package registries here (DESIGN §10), so this
runs only where ``PX4_SITL_URL`` names one, as a MAVSDK connection URL, e.g.
``PX4_SITL_URL=udpin://0.0.0.0:14540 pytest -m px4`` next to ``make px4_sitl gz_x500``.
The mission is built around the vehicle's own home.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edge_agent.drivers import load_driver
from edge_agent.drivers.drone import DroneDriver
from shared.messages import JobSpec, Progress
from tests.integration.agent_harness import wpl_mission
from tests.support import until

PX4_SITL_URL = os.environ.get("PX4_SITL_URL", "")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.px4,
    pytest.mark.skipif(
        not PX4_SITL_URL,
        reason="PX4_SITL_URL is not set: no real PX4 SITL to fly against "
        "(set it to a MAVSDK URL such as udpin://0.0.0.0:14540)",
    ),
]


async def test_a_mission_flies_on_px4_sitl_and_lands_at_home(tmp_path: Path) -> None:
    driver = load_driver(
        "mavsdk",
        {"connection": PX4_SITL_URL, "connect_timeout_s": 30.0, "preflight_wait_s": 30.0},
    )
    assert isinstance(driver, DroneDriver)
    await driver.start()
    try:

        async def ready() -> bool:
            s = driver.state
            return s.connected and s.home_set and s.armable and s.gps_fix >= 3

        await until(ready, "PX4 is ready to arm (home, GPS, pre-arm checks)", 120)
        home = (driver.state.lat_deg, driver.state.lon_deg)
        mission = tmp_path / "px4.waypoints"
        mission.write_bytes(wpl_mission(3, spacing_m=30, height_m=10, home=home))
        spec = JobSpec(plan_id=1, job_id=1, extra={"takeoff_alt_m": "10"})
        await driver.prepare(spec, {"mission": mission})
        reached: list[int] = []

        async def report(progress: Progress) -> None:
            if progress.item is not None:
                reached.append(progress.item)

        await driver.run(spec, report)
        assert reached == [0, 1, 2, 3]
        assert driver.state.down_and_safe
    finally:
        await driver.close()
