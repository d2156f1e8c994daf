"""Whatever bytes arrive, the parser answers a MissionFile or a MissionFileError, quickly.

Random bytes, every truncation of real files, numbers at and past every limit, wrong
types in every field, deep nesting, 10 MB of junk, text that is not UTF-8.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from shared.mission import MissionFile, MissionFileError, parse_mission_file

OWN = Path(__file__).resolve().parents[1] / "missions"
SEEDS = [p.read_bytes() for p in sorted(OWN.iterdir())]


def outcome(data: bytes) -> MissionFile | MissionFileError:
    try:
        return parse_mission_file(data)
    except MissionFileError as exc:
        error = exc
    assert error.location and error.message
    return error


def test_random_bytes() -> None:
    rng = random.Random(20261127)  # noqa: S311 (reproducible fuzzing)
    for _ in range(2_000):
        outcome(rng.randbytes(rng.randrange(0, 300)))
        outcome(b"QGC WPL 110\n" + rng.randbytes(rng.randrange(0, 300)))
        outcome(b"{" + rng.randbytes(rng.randrange(0, 300)))


@pytest.mark.parametrize("seed", SEEDS, ids=sorted(p.name for p in OWN.iterdir()))
def test_every_truncation_and_byte_flip(seed: bytes) -> None:
    for end in range(len(seed)):
        outcome(seed[:end])
    rng = random.Random(len(seed))  # noqa: S311
    for _ in range(500):
        data = bytearray(seed)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        outcome(bytes(data))


def _mutations(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            paths += _mutations(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            paths += _mutations(v, (*path, i))
    return paths


HOSTILE_VALUES: list[Any] = [
    None, True, 0, -1, 2**63, -(2**70), 1e308, -1e308, 1.5, "", "x" * 1000, "16",
    [], [None] * 7, {}, {"type": "ComplexItem"}, [[1, 2]] * 3,
]  # fmt: skip


@pytest.mark.parametrize(
    "name",
    [
        "fence_and_rally.plan",
        "survey.plan",
        "square.plan",
        "qgc_simpleitem_coordinate.plan",
        "qgc_survey_v4.plan",
        "qgc_home_null_alt.plan",
    ],
)
def test_every_field_replaced_by_every_kind_of_value(name: str) -> None:
    doc = json.loads((OWN / name).read_bytes())
    refused = 0
    for path in _mutations(doc)[1:]:
        for value in HOSTILE_VALUES:
            copy = json.loads(json.dumps(doc))
            node = copy
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            refused += isinstance(outcome(json.dumps(copy).encode()), MissionFileError)
    assert refused > 0


def test_json_numbers_beyond_any_type() -> None:
    square = (OWN / "square.plan").read_text()
    for big in ["1e400", "-1e400", "1" * 500, "NaN", "Infinity", "-0"]:
        outcome(square.replace("46.949", big, 1).encode())
    error = outcome(square.replace("46.949", "1e400", 1).encode())
    assert isinstance(error, MissionFileError) and "JSON" in error.message


def test_deep_nesting() -> None:
    for depth in (100, 10_000, 1_000_000):
        error = outcome(b"[" * depth + b"]" * depth)
        assert isinstance(error, MissionFileError)
        error = outcome(b'{"a":' * depth + b"1" + b"}" * depth)
        assert isinstance(error, MissionFileError)


def test_ten_megabytes_of_junk_is_refused_at_once() -> None:
    start = time.monotonic()
    error = outcome(b"{" + b"\x00" * 10_000_000)
    assert isinstance(error, MissionFileError)
    assert error.location == "file" and "MiB" in error.message
    assert time.monotonic() - start < 0.5


def test_four_megabytes_of_rows_takes_little_time() -> None:
    row = "0\t0\t3\t16\t0\t0\t0\t0\t46.9\t7.4\t20\t1\n"
    data = ("QGC WPL 110\n" + row * (4 * 1024 * 1024 // len(row) - 1)).encode()
    start = time.monotonic()
    error = outcome(data)
    assert isinstance(error, MissionFileError)  # row 0 is the home, then 10,001 items
    assert (error.location, error.message) == ("line 10003", "more than the 10000 items allowed")
    assert time.monotonic() - start < 1


def test_text_that_is_not_utf8() -> None:
    error = outcome("QGC WPL 110\n0\t1\t3\t16\t0\t0\t0\t0\t46,9\t7\t1\t1\n".encode("utf-16"))
    assert isinstance(error, MissionFileError)
    assert "UTF-8" in error.message
    assert isinstance(outcome(b"\xef\xbb\xbf" + (OWN / "square.plan").read_bytes()), MissionFile)
    assert isinstance(outcome(b"\xff\xfe{}"), MissionFileError)


def test_empty_and_blank_input() -> None:
    for data in [b"", b" ", b"\n\n", b"\x00", b"QGC WPL", b"{}", b"null", b"QGC WPL 110"]:
        error = outcome(data)
        assert isinstance(error, MissionFileError), data


def test_neither_format_names_the_file() -> None:
    error = outcome(b"<kml></kml>")
    assert isinstance(error, MissionFileError)
    assert "neither" in error.message
