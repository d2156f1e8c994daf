"""The well-known ``extra`` keys of a job (``shared.job_options``, read by the control plane
and the agent alike): typed, range-checked, refused with the key and the bound named."""

from __future__ import annotations

import pytest

from shared.job_options import KEYS, OPTIONS, JobOptionError, JobOptions, parse_job_options


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
            "resume_from": "7",
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
        resume_from=7,
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"takeoff_alt_m": "high"}, "extra.takeoff_alt_m: 'high' is not a number"),
        ({"takeoff_alt_m": "nan"}, "extra.takeoff_alt_m: nan is outside 1..1000"),
        ({"takeoff_alt_m": "0"}, "extra.takeoff_alt_m: 0 is outside 1..1000 m"),
        ({"speed_m_s": "1e9"}, "extra.speed_m_s: 1e+09 is outside 0.1..50 m/s"),
        ({"on_finish": "crash"}, "extra.on_finish: 'crash' is not one of hold, land, rtl"),
        ({"link_loss_action": ""}, "extra.link_loss_action: '' is not one of"),
        ({"link_loss_timeout_s": "-1"}, "extra.link_loss_timeout_s: -1 is outside 1..3600 s"),
        ({"min_battery_pct": "101"}, "extra.min_battery_pct: 101 is outside 0..100 %"),
        ({"min_battery_pct": "x" * 10_000}, "is not a number"),
        ({"resume_from": "-1"}, "extra.resume_from: '-1' is not a whole number"),
        ({"resume_from": "2.5"}, "extra.resume_from: '2.5' is not a whole number"),
        ({"resume_from": "1e3"}, "extra.resume_from: '1e3' is not a whole number"),
        ({"resume_from": "10000"}, "extra.resume_from: 10000 is outside 0..9999"),
        ({"resume_from": "9" * 10_000}, "extra.resume_from: 999999999999"),
    ],
)
def test_bad_values_are_refused_naming_the_key(extra: dict[str, str], message: str) -> None:
    with pytest.raises(JobOptionError) as refused:
        parse_job_options(extra)
    assert message in str(refused.value)
    key = next(iter(extra))
    assert (refused.value.key, refused.value.location) == (key, f"extra.{key}")
    assert len(str(refused.value)) < 200  # hostile input is not echoed whole


def test_the_table_holds_the_keys_of_design_section_6_with_their_bounds() -> None:
    design = {
        "takeoff_alt_m",
        "speed_m_s",
        "on_finish",
        "link_loss_action",
        "link_loss_timeout_s",
        "min_battery_pct",
        "endless_loops",
        "resume_from",  # set by a resume (POST .../jobs/{job_id}/resume)
    }
    assert design == KEYS
    table = {o.key: (o.low, o.high, o.unit, o.choices, o.default) for o in OPTIONS}
    assert table["takeoff_alt_m"] == (1.0, 1000.0, "m", (), None)
    assert table["link_loss_timeout_s"] == (1.0, 3600.0, "s", (), 30.0)
    assert table["on_finish"][3:] == (("hold", "land", "rtl"), "rtl")
    assert table["endless_loops"][3:] == (("allow", "refuse"), "refuse")
    # The bounds hold at both ends, inclusive.
    assert parse_job_options({"speed_m_s": "50", "min_battery_pct": "100"}).speed_m_s == 50.0
    with pytest.raises(JobOptionError, match=r"50\.5 is outside"):
        parse_job_options({"speed_m_s": "50.5"})
    assert table["resume_from"] == (0, 9999, "", (), None)
    assert parse_job_options({"resume_from": "9999"}).resume_from == 9999
    assert parse_job_options({"resume_from": "0"}).resume_from == 0
