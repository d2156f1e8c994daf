"""FLV reading and writing, with no dependencies: the live video's container on the wire.

The agent pushes FLV (made by FFmpeg's muxer) to the control plane, which relays it to
players. The relay must never pass on what a player would choke on, so the parser
checks every tag as it arrives (any chunking, down to one byte) and refuses a bad stream
at the first fault with one exception, ``FlvError``, whose message says what and where.

A stream is the 9-byte header (plus any bytes its data offset skips), the
PreviousTagSize 0, then tags, each followed by its own size (``11 + data size``).
``FlvTag.encoded`` is a tag with that trailing size: concatenating ``encode_header()``
and encoded tags gives a valid stream, which is how the relay writes to viewers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

AUDIO = 8
VIDEO = 9
SCRIPT = 18
TAG_TYPES = (AUDIO, VIDEO, SCRIPT)

AVC_CODEC_ID = 7
"""The video CodecID of H.264 in FLV (the only video codec the relay passes on)."""
AAC_SOUND_FORMAT = 10
KEYFRAME = 1
"""The video FrameType of a key frame."""
AVC_SEQUENCE_HEADER, AVC_NALU, AVC_END_OF_SEQUENCE = 0, 1, 2

HEADER_SIZE = 9
TAG_HEADER_SIZE = 11
DEFAULT_MAX_TAG_BYTES = 8 * 1024 * 1024
"""A tag's data larger than this is refused when its header arrives (a 1080p key frame
at a high bitrate is well under 1 MB)."""
DEFAULT_TIMESTAMP_TOLERANCE_MS = 500
"""How far a track's timestamp may go back before the stream is refused."""

_ON_METADATA = b"\x02\x00\x0aonMetaData"
"""AMF0: a string marker, its 16-bit length, then the name of the script call."""


class FlvError(ValueError):
    """The stream is not FLV the relay can pass on; the message says what and where."""

    def __init__(self, what: str, *, offset: int, tag: int | None = None) -> None:
        where = f"at byte {offset}" + (f", tag {tag}" if tag is not None else "")
        super().__init__(f"{what} ({where})")
        self.what = what
        self.offset = offset
        """Byte offset in the stream of the fault."""
        self.tag = tag
        """Number of the tag at fault (the first tag is 1); None: in the header."""


@dataclass(frozen=True, slots=True)
class FlvHeader:
    has_audio: bool
    has_video: bool
    data_offset: int
    """Bytes from the start of the stream to the PreviousTagSize 0 (9 in every muxer)."""


@dataclass(frozen=True, slots=True)
class FlvTag:
    """One whole tag: its type, its timestamp (extended byte included) and its data."""

    type: int
    """8 audio, 9 video, 18 script data."""
    timestamp_ms: int
    data: bytes
    offset: int = 0
    """Byte offset of the tag's header in the stream it was read from."""
    number: int = 0
    """1 for the first tag of the stream."""
    _encoded: list[bytes] = field(default_factory=list, repr=False, compare=False)

    @property
    def encoded(self) -> bytes:
        """The tag as it goes on the wire: header, data, trailing PreviousTagSize."""
        if not self._encoded:
            self._encoded.append(encode_tag(self.type, self.timestamp_ms, self.data))
        return self._encoded[0]

    @property
    def is_video(self) -> bool:
        return self.type == VIDEO

    @property
    def is_frame(self) -> bool:
        """A video tag that is not a sequence header (what viewers and tests count as
        the stream's frames)."""
        return self.type == VIDEO and not self.is_sequence_header

    @property
    def is_keyframe(self) -> bool:
        """A video key frame (a decoder can start here), not a sequence header."""
        return (
            self.type == VIDEO
            and len(self.data) >= 2
            and self.data[0] >> 4 == KEYFRAME
            and self.data[1] == AVC_NALU
        )

    @property
    def is_sequence_header(self) -> bool:
        """An AVC decoder configuration or an AAC AudioSpecificConfig."""
        if self.type == VIDEO:
            return len(self.data) >= 2 and self.data[0] & 0x0F == 7 and self.data[1] == 0
        if self.type == AUDIO:
            return (
                len(self.data) >= 2 and self.data[0] >> 4 == AAC_SOUND_FORMAT and not self.data[1]
            )
        return False

    @property
    def is_metadata(self) -> bool:
        """An AMF0 ``onMetaData`` script tag (size, rate, codecs of the stream)."""
        return self.type == SCRIPT and self.data.startswith(_ON_METADATA)

    def retimed(self, timestamp_ms: int) -> FlvTag:
        """The same tag at another timestamp (the relay's rewrite across publishers)."""
        return FlvTag(self.type, timestamp_ms, self.data, self.offset, self.number)


def encode_header(*, has_audio: bool = False, has_video: bool = True) -> bytes:
    """The 9-byte FLV header followed by PreviousTagSize 0."""
    flags = (0x04 if has_audio else 0) | (0x01 if has_video else 0)
    return b"FLV\x01" + bytes([flags]) + struct.pack(">II", HEADER_SIZE, 0)


def encode_tag(tag_type: int, timestamp_ms: int, data: bytes) -> bytes:
    """A tag with its trailing PreviousTagSize. Timestamps wrap at 2**32 ms (49 days)."""
    size = len(data)
    if size >= 1 << 24:
        raise ValueError(f"an FLV tag holds at most 16 MiB - 1, not {size} bytes")
    ts = timestamp_ms & 0xFFFFFFFF
    head = struct.pack(
        ">B3s3sB3s",
        tag_type,
        size.to_bytes(3, "big"),
        (ts & 0xFFFFFF).to_bytes(3, "big"),
        ts >> 24,
        b"\0\0\0",
    )
    return head + data + struct.pack(">I", TAG_HEADER_SIZE + size)


def avc_video_data(frame_type: int, packet_type: int, payload: bytes, cts_ms: int = 0) -> bytes:
    """A video tag's data for H.264: frame type, codec 7, packet type, composition time."""
    return (
        bytes([(frame_type << 4) | AVC_CODEC_ID, packet_type])
        + (cts_ms & 0xFFFFFF).to_bytes(3, "big")
        + payload
    )


def avc_config_record(sps: list[bytes], pps: list[bytes], length_size: int = 4) -> bytes:
    """An AVCDecoderConfigurationRecord (ISO 14496-15) holding these SPS and PPS."""
    profile = sps[0][1:4] if sps and len(sps[0]) >= 4 else b"\x42\x00\x1e"
    out = bytearray([1, *profile, 0xFC | (length_size - 1), 0xE0 | len(sps)])
    for unit in sps:
        out += len(unit).to_bytes(2, "big") + unit
    out.append(len(pps))
    for unit in pps:
        out += len(unit).to_bytes(2, "big") + unit
    return bytes(out)


def nalus(units: list[bytes], length_size: int = 4) -> bytes:
    """NAL units with the length prefixes an AVC NALU tag carries."""
    return b"".join(len(u).to_bytes(length_size, "big") + u for u in units)


def parse_avc_config(record: bytes) -> int:
    """The NALU length size (1, 2 or 4) of an AVCDecoderConfigurationRecord; ValueError
    saying what is wrong when it is not a valid record."""
    if len(record) < 7:
        raise ValueError(f"the AVC configuration record is {len(record)} bytes, too short")
    if record[0] != 1:
        raise ValueError(f"the AVC configuration record has version {record[0]}, not 1")
    length_size = (record[4] & 0x03) + 1
    if length_size == 3:
        raise ValueError("the AVC configuration record gives a NALU length size of 3")
    pos = 6
    for kind, count in (("SPS", record[5] & 0x1F), ("PPS", None)):
        if count is None:
            if pos >= len(record):
                raise ValueError("the AVC configuration record ends before its PPS count")
            count = record[pos]
            pos += 1
        if kind == "SPS" and count == 0:
            raise ValueError("the AVC configuration record holds no SPS")
        for i in range(count):
            if pos + 2 > len(record):
                raise ValueError(f"the AVC configuration record ends inside {kind} {i + 1}")
            size = int.from_bytes(record[pos : pos + 2], "big")
            pos += 2 + size
            if pos > len(record) or size == 0:
                raise ValueError(
                    f"{kind} {i + 1} of the AVC configuration record ({size} bytes) "
                    "does not fit in it"
                )
    return length_size


class FlvParser:
    """Incremental, checking FLV reader: ``feed(bytes)`` answers what became whole.

    The first item is the ``FlvHeader``, then ``FlvTag``s. Every check runs as soon as
    the bytes it needs have arrived; a declared tag size over ``max_tag_bytes`` is
    refused before any of its data is buffered. After an ``FlvError`` the parser is
    done (feeding it again raises the same error).
    """

    def __init__(
        self,
        *,
        max_tag_bytes: int = DEFAULT_MAX_TAG_BYTES,
        timestamp_tolerance_ms: int = DEFAULT_TIMESTAMP_TOLERANCE_MS,
    ) -> None:
        self.max_tag_bytes = max_tag_bytes
        self.timestamp_tolerance_ms = timestamp_tolerance_ms
        self._buf = bytearray()
        self._base = 0
        """Stream offset of ``_buf[0]``."""
        self._header: FlvHeader | None = None
        self._need_prev_size: int | None = None
        """The PreviousTagSize expected next (0 after the header); None: a tag is next."""
        self._tags = 0
        self._last_ts: dict[int, int] = {}
        self._length_size: int | None = None
        """NALU length size of the current AVC configuration; None before one."""
        self._error: FlvError | None = None

    @property
    def offset(self) -> int:
        """Bytes of the stream consumed so far."""
        return self._base

    @property
    def tags(self) -> int:
        """Tags read so far."""
        return self._tags

    def feed(self, data: bytes) -> list[FlvHeader | FlvTag]:
        """Take the next bytes of the stream; answer the header and tags they completed."""
        if self._error is not None:
            raise self._error
        self._buf += data
        out: list[FlvHeader | FlvTag] = []
        try:
            pos = self._parse(out)
        except FlvError as exc:
            self._error = exc
            raise
        del self._buf[:pos]
        self._base += pos
        return out

    def finish(self) -> None:
        """The stream ended: refuse it if it ended inside the header or a tag."""
        if self._error is not None:
            raise self._error
        if self._header is None:
            self._fail("the stream ended before a whole FLV header", self._base, None)
        if self._buf:
            what = "a PreviousTagSize" if self._need_prev_size is not None else "a tag"
            self._fail(
                f"the stream ended inside {what} ({len(self._buf)} bytes of it arrived)",
                self._base,
                self._tags + (self._need_prev_size is None),
            )

    def _fail(self, what: str, offset: int, tag: int | None) -> None:
        self._error = FlvError(what, offset=offset, tag=tag)
        raise self._error

    def _parse(self, out: list[FlvHeader | FlvTag]) -> int:
        buf, pos = self._buf, 0
        if self._header is None:
            pos = self._read_header(out)
            if self._header is None:
                return pos
        while True:
            if self._need_prev_size is not None:
                if len(buf) - pos < 4:
                    return pos
                (size,) = struct.unpack_from(">I", buf, pos)
                if size != self._need_prev_size:
                    self._fail(
                        f"PreviousTagSize is {size}, the tag before it is "
                        f"{self._need_prev_size} bytes",
                        self._base + pos,
                        self._tags,
                    )
                pos += 4
                self._need_prev_size = None
            if len(buf) - pos < TAG_HEADER_SIZE:
                self._check_tag_start(pos)
                return pos
            tag_type, size, ts = self._check_tag_header(pos)
            if len(buf) - pos < TAG_HEADER_SIZE + size:
                return pos
            start = pos + TAG_HEADER_SIZE
            data = bytes(buf[start : start + size])
            self._tags += 1
            tag = FlvTag(tag_type, ts, data, self._base + pos, self._tags)
            self._check_tag(tag)
            out.append(tag)
            pos = start + size
            self._need_prev_size = TAG_HEADER_SIZE + size

    def _read_header(self, out: list[FlvHeader | FlvTag]) -> int:
        buf = self._buf
        for i, (expected, name) in enumerate(((0x46, "F"), (0x4C, "L"), (0x56, "V"))):
            if len(buf) > i and buf[i] != expected:
                self._fail(f"not an FLV stream: byte {i} is {buf[i]:#04x}, not {name!r}", i, None)
        if len(buf) > 3 and buf[3] != 1:
            self._fail(f"FLV version {buf[3]} is not 1", 3, None)
        if len(buf) < HEADER_SIZE:
            return 0
        flags = buf[4]
        data_offset = int.from_bytes(buf[5:9], "big")
        if data_offset < HEADER_SIZE or data_offset > 1024:
            self._fail(f"the header's data offset {data_offset} is not 9..1024", 5, None)
        if len(buf) < data_offset:
            return 0
        self._header = FlvHeader(bool(flags & 0x04), bool(flags & 0x01), data_offset)
        out.append(self._header)
        self._need_prev_size = 0
        return data_offset

    def _check_tag_start(self, pos: int) -> None:
        """Refuse a wrong tag type with its first byte, before the rest arrives."""
        if len(self._buf) > pos:
            self._check_type(self._buf[pos], pos)

    def _check_type(self, byte: int, pos: int) -> None:
        if byte & 0x20:
            self._fail(
                "encrypted (filtered) tags are not supported", self._base + pos, self._tags + 1
            )
        if byte & 0x1F not in TAG_TYPES:
            self._fail(
                f"tag type {byte & 0x1F} is not audio (8), video (9) or script (18)",
                self._base + pos,
                self._tags + 1,
            )

    def _check_tag_header(self, pos: int) -> tuple[int, int, int]:
        buf, number, where = self._buf, self._tags + 1, self._base + pos
        self._check_type(buf[pos], pos)
        size = int.from_bytes(buf[pos + 1 : pos + 4], "big")
        if size > self.max_tag_bytes:
            self._fail(
                f"a tag of {size} bytes is over the limit of {self.max_tag_bytes}", where, number
            )
        ts = int.from_bytes(buf[pos + 4 : pos + 7], "big") | (buf[pos + 7] << 24)
        if buf[pos + 8] or buf[pos + 9] or buf[pos + 10]:
            self._fail("a tag's StreamID is not 0", where + 8, number)
        return buf[pos], size, ts

    def _check_tag(self, tag: FlvTag) -> None:
        where, number = tag.offset, tag.number
        if tag.type == VIDEO:
            self._check_video(tag)
        elif tag.type == AUDIO and not tag.data:
            self._fail("an audio tag has no data", where, number)
        if tag.type == SCRIPT:
            return
        last = self._last_ts.get(tag.type)
        if last is not None and tag.timestamp_ms < last - self.timestamp_tolerance_ms:
            track = "video" if tag.type == VIDEO else "audio"
            self._fail(
                f"the {track} timestamp goes back from {last} ms to {tag.timestamp_ms} ms",
                where,
                number,
            )
        if last is None or tag.timestamp_ms > last:
            self._last_ts[tag.type] = tag.timestamp_ms

    def _check_video(self, tag: FlvTag) -> None:
        data, where, number = tag.data, tag.offset + TAG_HEADER_SIZE, tag.number
        if len(data) < 5:
            self._fail(f"a video tag of {len(data)} bytes is too short for H.264", where, number)
        codec = data[0] & 0x0F
        if data[0] & 0x80 or codec != AVC_CODEC_ID:
            self._fail(f"video codec {codec} is not H.264 (7)", where, number)
        packet_type = data[1]
        if packet_type == AVC_SEQUENCE_HEADER:
            try:
                self._length_size = parse_avc_config(data[5:])
            except ValueError as exc:
                self._fail(str(exc), where + 5, number)
        elif packet_type == AVC_NALU:
            if self._length_size is None:
                self._fail("an H.264 frame arrived before the sequence header", where, number)
            self._check_nalus(data, where, number)
        elif packet_type != AVC_END_OF_SEQUENCE:
            self._fail(f"AVCPacketType {packet_type} is not 0, 1 or 2", where + 1, number)

    def _check_nalus(self, data: bytes, where: int, number: int) -> None:
        n = self._length_size or 4
        pos, end = 5, len(data)
        while pos < end:
            if pos + n > end:
                self._fail(
                    "a NALU length prefix is cut off by the end of the tag", where + pos, number
                )
            size = int.from_bytes(data[pos : pos + n], "big")
            if pos + n + size > end:
                self._fail(
                    f"a NALU of {size} bytes does not fit in the tag ({end - pos - n} left)",
                    where + pos,
                    number,
                )
            pos += n + size
