"""The capture-time stamp: what the camera writes is what the relay's readers find."""

from __future__ import annotations

import random

import pytest

from shared import video_stamp
from shared.video_stamp import StampError


@pytest.mark.parametrize("capture_us", [0, 1, 1_767_000_000_123_456, (1 << 64) - 1])
def test_round_trip_in_both_framings(capture_us: int) -> None:
    frame = b"\x00\x00\x00\x01\x65\x88\x84\x00\x33"  # an IDR slice after the stamp
    assert video_stamp.find_in_annexb(video_stamp.build_annexb(capture_us) + frame) == capture_us
    slice_nal = b"\x65\x88\x84\x00\x33"
    avcc = video_stamp.build_avcc(capture_us) + len(slice_nal).to_bytes(4, "big") + slice_nal
    assert video_stamp.find_in_avcc(avcc) == capture_us
    assert video_stamp.find_in_avcc(video_stamp.build_avcc(capture_us, 2), 2) == capture_us


@pytest.mark.parametrize(
    "capture_us", [0x0000_0001_0000_0203, 0x0000_0000_0000_0000, 0x0300_0000_0000_0001]
)
def test_emulation_prevention_keeps_start_codes_out(capture_us: int) -> None:
    nal = video_stamp.build_nal(capture_us)
    body = nal[1:]
    for i in range(len(body) - 2):
        assert not (body[i] == 0 and body[i + 1] == 0 and body[i + 2] <= 2), body.hex()
    # A parser splitting on start codes still sees one whole NAL.
    assert video_stamp.annexb_nals(video_stamp.build_annexb(capture_us)) == [nal]
    assert video_stamp.find_in_annexb(video_stamp.build_annexb(capture_us)) == capture_us


def test_no_stamp_is_none() -> None:
    assert video_stamp.find_in_annexb(b"") is None
    assert video_stamp.find_in_annexb(b"\x00\x00\x01\x67\x42\x00\x1f") is None
    assert video_stamp.find_in_avcc(b"\x00\x00\x00\x03\x67\x42\x00") is None
    # Someone else's user data (another UUID) is not our stamp.
    other = bytearray(video_stamp.build_nal(42))
    other[3] ^= 0xFF
    assert video_stamp.stamp_of_nal(bytes(other)) is None


@pytest.mark.parametrize("bad", [-1, 1 << 64, 1.5, "1"])
def test_impossible_times_are_refused_clearly(bad: object) -> None:
    with pytest.raises(StampError):
        video_stamp.build_nal(bad)  # type: ignore[arg-type]


def test_hostile_bytes_answer_none_or_a_stamp_never_raise() -> None:
    rng = random.Random(11)  # noqa: S311 (reproducible junk, not secrets)
    good = video_stamp.build_annexb(123456789)
    for _ in range(3000):
        size = rng.randrange(0, 64)
        junk = bytes(rng.randrange(256) for _ in range(size))
        if rng.random() < 0.5:  # mutate a real stamp: truncations, flipped bytes
            cut = bytearray(good[: rng.randrange(len(good) + 1)])
            if cut:
                cut[rng.randrange(len(cut))] = rng.randrange(256)
            junk = bytes(cut)
        for length_size in (1, 2, 3, 4, 0, 7):
            result = video_stamp.find_in_avcc(junk, length_size)
            assert result is None or isinstance(result, int)
        result = video_stamp.find_in_annexb(junk)
        assert result is None or isinstance(result, int)
    # A truncated stamp is not found (no half-read time).
    assert video_stamp.find_in_annexb(good[:-3]) is None
