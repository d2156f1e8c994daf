"""The capture-time stamp carried inside an H.264 stream, so latency can be measured end to end.

The simulator's camera prepends to every frame an SEI NAL unit (type 6) holding one
``user_data_unregistered`` message (payload type 5): our 16-byte UUID, then the frame's
capture time in Unix microseconds (8 bytes, big-endian). The agent passes H.264 through
untouched and the relay forwards it, so a viewer (or a test, or a benchmark) that finds
the stamp knows when the frame was captured. Decoders ignore SEI they do not know.

Both framings of H.264 are read: Annex B (start codes, as in MPEG-TS and raw ``.h264``)
and AVCC (length-prefixed NAL units, as in FLV video tags and MP4). Hostile bytes never
raise anything but ``StampError`` from the builders; the finders answer None.
"""

from __future__ import annotations

import uuid

STAMP_UUID = uuid.UUID("6a1c7e2b-93d4-4f0a-b5e8-0c4d2f9a7731").bytes
"""Our ``uuid_iso_iec_11578`` of the SEI message: it tells our stamp from anyone else's."""

NAL_TYPE_SEI = 6
PAYLOAD_TYPE_USER_DATA_UNREGISTERED = 5
START_CODE = b"\x00\x00\x00\x01"
_PAYLOAD_SIZE = 16 + 8
_MAX_US = (1 << 64) - 1


class StampError(ValueError):
    """A stamp that cannot be built (a time outside 0..2**64-1 microseconds)."""


def _escape(rbsp: bytes) -> bytes:
    """Insert emulation prevention bytes: no ``00 00 0x`` (x <= 3) may appear in a NAL."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _unescape(ebsp: bytes) -> bytes:
    """Remove emulation prevention bytes (the ``03`` after each ``00 00``)."""
    out = bytearray()
    zeros = 0
    for byte in ebsp:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def build_nal(capture_us: int) -> bytes:
    """The SEI NAL unit (header byte first, no start code) stamping ``capture_us``."""
    if not isinstance(capture_us, int) or not 0 <= capture_us <= _MAX_US:
        raise StampError(f"capture time {capture_us!r} is not 0..2**64-1 microseconds")
    rbsp = (
        bytes([PAYLOAD_TYPE_USER_DATA_UNREGISTERED, _PAYLOAD_SIZE])
        + STAMP_UUID
        + capture_us.to_bytes(8, "big")
        + b"\x80"  # rbsp_trailing_bits
    )
    return bytes([NAL_TYPE_SEI]) + _escape(rbsp)  # nal_ref_idc 0, type 6


def build_annexb(capture_us: int) -> bytes:
    """The stamp NAL with a 4-byte start code, to prepend to an Annex B access unit."""
    return START_CODE + build_nal(capture_us)


def build_avcc(capture_us: int, length_size: int = 4) -> bytes:
    """The stamp NAL with its length prefix, to prepend to an AVCC access unit."""
    nal = build_nal(capture_us)
    return len(nal).to_bytes(length_size, "big") + nal


def stamp_of_nal(nal: bytes) -> int | None:
    """The capture time (Unix µs) if ``nal`` (header byte first) is our stamp, else None."""
    if len(nal) < 2 or nal[0] & 0x1F != NAL_TYPE_SEI:
        return None
    rbsp = _unescape(nal[1:])
    pos = 0
    # An SEI NAL may hold several messages: walk them (type and size are 0xFF-extended).
    while pos < len(rbsp) and rbsp[pos] != 0x80:
        payload_type = 0
        while pos < len(rbsp) and rbsp[pos] == 0xFF:
            payload_type += 255
            pos += 1
        if pos >= len(rbsp):
            return None
        payload_type += rbsp[pos]
        pos += 1
        size = 0
        while pos < len(rbsp) and rbsp[pos] == 0xFF:
            size += 255
            pos += 1
        if pos >= len(rbsp):
            return None
        size += rbsp[pos]
        pos += 1
        payload = rbsp[pos : pos + size]
        if len(payload) < size:
            return None
        if (
            payload_type == PAYLOAD_TYPE_USER_DATA_UNREGISTERED
            and size == _PAYLOAD_SIZE
            and payload[:16] == STAMP_UUID
        ):
            return int.from_bytes(payload[16:24], "big")
        pos += size
    return None


def annexb_nals(data: bytes) -> list[bytes]:
    """The NAL units of Annex B bytes (3- or 4-byte start codes), headers first."""
    nals: list[bytes] = []
    starts: list[int] = []
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\x00\x00\x01", i + 3)
    for n, start in enumerate(starts):
        end = starts[n + 1] - 3 if n + 1 < len(starts) else len(data)
        nal = data[start:end]
        # A 4-byte start code leaves its first zero at the end of the previous NAL (and
        # trailing_zero_8bits may follow a NAL): strip them.
        nals.append(nal.rstrip(b"\x00") if n + 1 < len(starts) else nal)
    return nals


def avcc_nals(data: bytes, length_size: int = 4) -> list[bytes] | None:
    """The NAL units of AVCC bytes, or None if the lengths do not tile ``data`` exactly."""
    if length_size not in (1, 2, 3, 4):
        return None
    nals: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + length_size > len(data):
            return None
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(data):
            return None
        nals.append(data[pos : pos + size])
        pos += size
    return nals


def find_in_annexb(data: bytes) -> int | None:
    """The first stamp (Unix µs) in Annex B bytes, or None."""
    for nal in annexb_nals(data):
        stamp = stamp_of_nal(nal)
        if stamp is not None:
            return stamp
    return None


def find_in_avcc(data: bytes, length_size: int = 4) -> int | None:
    """The first stamp (Unix µs) in AVCC bytes (an FLV video tag's NAL units), or None."""
    for nal in avcc_nals(data, length_size) or ():
        stamp = stamp_of_nal(nal)
        if stamp is not None:
            return stamp
    return None
