"""The well-known ``extra`` keys of a job: typed, range-checked, refused with the key named."""

from __future__ import annotations

import pytest

from edge_agent.job_options import JobOptionError, JobOptions, parse_job_options


def test_defaults_when_nothing_is_given() -> None:
    assert parse_job_options({}) == JobOptions()
    assert JobOptions().on_finish == "rtl"
    assert JobOptions().link_loss_action == "continue"


def test_every_key_is_read_and_unknown_keys_pass() -> None:
    options = parse_job_options(
        {
            "takeoff_alt_m": "12.5",
            "speed_m_s": "8",
            "on_finish": "land",
            "link_loss_action": "rtl",
            "link_loss_timeout_s": "45",
            "min_battery_pct": "40",
            "camera": "on",
        }
    )
    assert options == JobOptions(
        takeoff_alt_m=12.5,
        speed_m_s=8.0,
        on_finish="land",
        link_loss_action="rtl",
        link_loss_timeout_s=45.0,
        min_battery_pct=40.0,
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"takeoff_alt_m": "high"}, "extra.takeoff_alt_m: 'high' is not a number"),
        ({"takeoff_alt_m": "nan"}, "extra.takeoff_alt_m: nan is outside 1..1000"),
        ({"takeoff_alt_m": "0"}, "extra.takeoff_alt_m: 0 is outside 1..1000"),
        ({"speed_m_s": "1e9"}, "extra.speed_m_s: 1e+09 is outside 0.1..50"),
        ({"on_finish": "crash"}, "extra.on_finish: 'crash' is not one of rtl, land, hold"),
        ({"link_loss_action": ""}, "extra.link_loss_action: '' is not one of"),
        ({"link_loss_timeout_s": "-1"}, "extra.link_loss_timeout_s: -1 is outside 1..3600"),
        ({"min_battery_pct": "101"}, "extra.min_battery_pct: 101 is outside 0..100"),
        ({"min_battery_pct": "x" * 10_000}, "is not a number"),
    ],
)
def test_bad_values_are_refused_naming_the_key(extra: dict[str, str], message: str) -> None:
    with pytest.raises(JobOptionError) as refused:
        parse_job_options(extra)
    assert message in str(refused.value)
    assert len(str(refused.value)) < 200  # hostile input is not echoed whole
