"""The FLV reader refuses what a player would choke on, at the first fault, whatever the
chunking; what the writer builds, the reader reads back."""

from __future__ import annotations

import random
import struct

import pytest

from shared import flv
from shared.flv import FlvError, FlvHeader, FlvParser, FlvTag

SPS = bytes.fromhex("6742c01e95a0501fb010")
PPS = bytes.fromhex("68ce3c80")
CONFIG = flv.avc_video_data(1, 0, flv.avc_config_record([SPS], [PPS]))


def frame(key: bool, size: int = 40) -> bytes:
    unit = bytes([0x65 if key else 0x41]) + bytes(size)
    return flv.avc_video_data(1 if key else 2, 1, flv.nalus([unit]))


def stream(frames: int = 10, gop: int = 5, *, start_ms: int = 0) -> bytes:
    out = flv.encode_header(has_video=True)
    out += flv.encode_tag(flv.SCRIPT, 0, b"\x02\x00\x0aonMetaData\x08\x00\x00\x00\x00")
    out += flv.encode_tag(flv.VIDEO, start_ms, CONFIG)
    for i in range(frames):
        out += flv.encode_tag(flv.VIDEO, start_ms + i * 40, frame(i % gop == 0))
    return out


def parse(data: bytes, chunk: int | None = None, **kw: int) -> list[FlvHeader | FlvTag]:
    parser = FlvParser(**kw)
    out: list[FlvHeader | FlvTag] = []
    step = chunk or len(data) or 1
    for i in range(0, len(data), step):
        out += parser.feed(data[i : i + step])
    parser.finish()
    return out


def error(data: bytes, chunk: int | None = None, **kw: int) -> FlvError:
    with pytest.raises(FlvError) as caught:
        parse(data, chunk, **kw)
    return caught.value


def test_a_stream_reads_back_whole_with_its_kinds_of_tag() -> None:
    items = parse(stream())
    assert isinstance(items[0], FlvHeader) and items[0].has_video and not items[0].has_audio
    tags = [t for t in items if isinstance(t, FlvTag)]
    assert tags[0].is_metadata and tags[1].is_sequence_header
    assert [t.is_keyframe for t in tags[2:]] == [i % 5 == 0 for i in range(10)]
    assert [t.number for t in tags] == list(range(1, 13))
    assert b"".join(t.encoded for t in tags) == stream()[13:]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 11, 64])
def test_any_chunking_gives_the_same_tags(chunk: int) -> None:
    assert parse(stream(), chunk) == parse(stream())


def test_what_the_writer_builds_the_reader_reads_back() -> None:
    rng = random.Random(11)  # noqa: S311 - reproducible test data
    for _ in range(200):
        tags = [(flv.VIDEO, 0, CONFIG)]
        ts = rng.randrange(0, 1 << 32 - 1)
        for _ in range(rng.randrange(0, 20)):
            ts += rng.randrange(0, 100)
            kind = rng.choice([flv.VIDEO, flv.AUDIO, flv.SCRIPT])
            data = (
                frame(rng.random() < 0.2, rng.randrange(0, 300))
                if kind == flv.VIDEO
                else rng.randbytes(rng.randrange(1, 300))
            )
            tags.append((kind, ts & 0xFFFFFFFF, data))
        data = flv.encode_header(has_audio=True) + b"".join(flv.encode_tag(*t) for t in tags)
        read = [t for t in parse(data, rng.randrange(1, 500)) if isinstance(t, FlvTag)]
        assert [(t.type, t.timestamp_ms, t.data) for t in read] == tags


def test_the_extended_timestamp_byte_counts() -> None:
    data = flv.encode_header() + flv.encode_tag(flv.VIDEO, 0x12345678, CONFIG)
    tag = parse(data)[1]
    assert isinstance(tag, FlvTag) and tag.timestamp_ms == 0x12345678


def test_random_bytes_are_refused_at_once() -> None:
    rng = random.Random(3)  # noqa: S311 - reproducible test data
    for _ in range(100):
        junk = rng.randbytes(rng.randrange(1, 2000))
        if junk.startswith(b"FLV"):
            continue
        assert "not an FLV stream" in str(error(junk, 1))


def test_random_tags_after_a_valid_header_are_refused_never_crash() -> None:
    rng = random.Random(5)  # noqa: S311 - reproducible test data
    for _ in range(300):
        data = flv.encode_header() + rng.randbytes(rng.randrange(1, 500))
        with pytest.raises(FlvError):
            parse(data, rng.randrange(1, 50), max_tag_bytes=1000)


def test_a_wrong_header_says_what_is_wrong() -> None:
    assert "version 2" in str(error(b"FLV\x02\x01" + struct.pack(">II", 9, 0)))
    assert "data offset 3" in str(error(b"FLV\x01\x01" + struct.pack(">II", 3, 0)))
    assert "byte 0" in str(error(b"GET / HTTP/1.1\r\n"))


def test_a_truncated_stream_is_refused_naming_the_tag() -> None:
    whole = stream()
    e = error(whole[:-20])
    assert "ended inside a tag" in str(e) and e.tag == 12
    assert "before a whole FLV header" in str(error(whole[:5]))


def test_a_wrong_previous_tag_size_is_refused() -> None:
    data = bytearray(stream())
    metadata = parse(stream())[1]
    assert isinstance(metadata, FlvTag)
    after = 13 + 11 + len(metadata.data)  # the PreviousTagSize after the metadata tag
    struct.pack_into(">I", data, after, 99)
    e = error(bytes(data), 1)
    assert "PreviousTagSize is 99" in str(e) and e.tag == 1 and e.offset == after


def test_a_huge_tag_is_refused_before_its_data_arrives() -> None:
    parser = FlvParser(max_tag_bytes=1_000_000)
    parser.feed(flv.encode_header())
    with pytest.raises(FlvError, match="16777215 bytes is over the limit"):
        parser.feed(b"\x09\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00")


def test_a_frame_before_the_sequence_header_is_refused() -> None:
    data = flv.encode_header() + flv.encode_tag(flv.VIDEO, 0, frame(True))
    assert "before the sequence header" in str(error(data))


@pytest.mark.parametrize(
    ("record", "why"),
    [
        (b"\x02\x42\x00\x1e\xff\xe1\x00\x04abcd\x01\x00\x01x", "version 2"),
        (b"\x01\x42\x00\x1e\xfe\xe1\x00\x04abcd\x01\x00\x01x", "length size of 3"),
        (b"\x01\x42\x00\x1e\xff\xe1\x00\x40abcd\x01\x00\x01x", "SPS 1"),
        (b"\x01\x42\x00\x1e\xff\xe1\x00\x04abcd\x03\x00\x01x", "PPS 2"),
        (b"\x01\x42\x00\x1e\xff\xe0\x01\x00\x01x", "no SPS"),
        (b"\x01", "too short"),
    ],
)
def test_a_bad_codec_configuration_is_refused(record: bytes, why: str) -> None:
    data = flv.encode_header() + flv.encode_tag(flv.VIDEO, 0, flv.avc_video_data(1, 0, record))
    assert why in str(error(data))


def test_other_codecs_and_packet_types_are_refused() -> None:
    vp6 = flv.encode_header() + flv.encode_tag(flv.VIDEO, 0, b"\x14\x00\x00\x00\x00")
    assert "codec 4 is not H.264" in str(error(vp6))
    bad = flv.encode_header() + flv.encode_tag(flv.VIDEO, 0, flv.avc_video_data(1, 5, b""))
    assert "AVCPacketType 5" in str(error(bad))
    assert "tag type 7" in str(error(flv.encode_header() + flv.encode_tag(7, 0, b"x")))


def test_a_nalu_longer_than_its_tag_is_refused() -> None:
    broken = flv.avc_video_data(1, 1, b"\x00\x00\x01\x00" + b"x" * 10)
    data = flv.encode_header() + flv.encode_tag(flv.VIDEO, 0, CONFIG)
    assert "NALU of 256 bytes" in str(error(data + flv.encode_tag(flv.VIDEO, 0, broken)))


def test_timestamps_going_back_are_refused_beyond_the_tolerance() -> None:
    base = flv.encode_header() + flv.encode_tag(flv.VIDEO, 5000, CONFIG)
    slight = base + flv.encode_tag(flv.VIDEO, 4900, frame(True))
    assert len(parse(slight, timestamp_tolerance_ms=200)) == 3
    far = base + flv.encode_tag(flv.VIDEO, 1000, frame(True))
    assert "goes back from 5000 ms to 1000 ms" in str(error(far, timestamp_tolerance_ms=200))


def test_after_an_error_the_parser_stays_refused() -> None:
    parser = FlvParser()
    with pytest.raises(FlvError):
        parser.feed(b"XYZ")
    with pytest.raises(FlvError, match="not an FLV stream"):
        parser.feed(stream())
