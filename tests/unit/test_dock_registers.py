"""The dock register map: one consistent table, the README's copy of it, and the checks
the agent applies to what a dock reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.drivers.depot_state import DockFault, decode, to_status
from shared import dock_registers as reg
from simulator.depot import DockModel

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_shows_the_map_as_the_code_defines_it() -> None:
    text = README.read_text(encoding="utf-8")
    start = text.index("<!-- dock-register-map: generated from shared/dock_registers.py -->\n")
    end = text.index("<!-- /dock-register-map -->")
    shown = text[start:end].split("\n", 1)[1]
    assert shown == reg.render_markdown(), "README's dock register map drifted: regenerate it"


@pytest.mark.parametrize("table", [reg.HOLDING, reg.INPUT])
def test_addresses_are_contiguous_from_zero_and_names_unique(
    table: tuple[reg.Register, ...],
) -> None:
    assert [r.address for r in table] == list(range(len(table)))
    assert len({r.name for r in table}) == len(table)
    for r in table:
        assert r.low <= r.high and r.meaning
        assert r.signed or 0 <= r.low <= r.high <= 0xFFFF


def test_the_state_of_an_idle_simulated_dock_decodes_and_reads_as_the_original_fields() -> None:
    model = DockModel(47.0, 8.0)
    state = decode(model.input_registers(), model.holding_registers())
    status = to_status(state, None, None, busy=False)
    assert (status.status, status.door, status.fix, status.power) == ("idle", "closed", True, 0.0)
    assert status.weather is not None and status.weather.rain == "none"


def test_a_negative_temperature_is_read_signed() -> None:
    model = DockModel(47.0, 8.0)
    inputs = model.input_registers()
    inputs[reg.INPUT_BY_NAME["temperature"].address] = (-123) & 0xFFFF
    state = decode(inputs, model.holding_registers())
    assert state.temperature_c == pytest.approx(-12.3)


@pytest.mark.parametrize(
    ("name", "raw"),
    [("mode", 5), ("clamp", 4), ("humidity", 1001), ("wind_direction", 360), ("rain", 4),
     ("drone_present", 2), ("temperature", (-401) & 0xFFFF), ("command_status", 7)],
)  # fmt: skip
def test_a_value_outside_the_map_is_a_fault_naming_the_register(name: str, raw: int) -> None:
    model = DockModel(47.0, 8.0)
    inputs = model.input_registers()
    inputs[reg.INPUT_BY_NAME[name].address] = raw
    with pytest.raises(DockFault) as fault:
        decode(inputs, model.holding_registers())
    assert fault.value.code == "bad_register" and name in fault.value.detail


def test_short_answers_and_bad_holding_registers_are_faults() -> None:
    model = DockModel(47.0, 8.0)
    with pytest.raises(DockFault):
        decode(model.input_registers()[:5], model.holding_registers())
    holding = model.holding_registers()
    holding[reg.HOLDING_BY_NAME["flight_under_way"].address] = 3
    with pytest.raises(DockFault):
        decode(model.input_registers(), holding)


def test_the_simulated_dock_refuses_bad_writes_and_changes_nothing() -> None:
    model = DockModel(47.0, 8.0)
    before = model.holding_registers()
    assert model.write(0, [99, 1]) is not None  # unknown command
    assert model.write(3, [20]) is not None  # charge target below 50 %
    assert model.write(2, [2]) is not None  # flight_under_way is 0/1
    assert model.write(4, [1]) is not None  # no such register
    assert model.holding_registers() == before and model.run is None
