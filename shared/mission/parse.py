"""The entry point: bytes of an uploaded file in, a checked ``MissionFile`` or a
``MissionFileError`` out, whatever the bytes are.

The format is told by content, not by file name (names lie and are often missing): a first
line ``QGC WPL ...`` is a waypoint list, a first character ``{`` a QGroundControl .plan.
Files over ``MAX_FILE_BYTES`` are refused before any parsing; text must be UTF-8 (a BOM is
allowed).
"""

from __future__ import annotations

from shared.mission.errors import MissionFileError
from shared.mission.items import MAX_FILE_BYTES, MissionFile
from shared.mission.qgc_plan import parse_qgc_plan
from shared.mission.wpl import parse_wpl


def parse_mission_file(data: bytes, *, filename: str = "") -> MissionFile:
    """Parse and check a mission file; never raises anything but ``MissionFileError``.

    ``filename`` only improves the message of a file that is neither format.
    """
    if len(data) > MAX_FILE_BYTES:
        raise MissionFileError(
            "file", f"{len(data)} bytes is more than the {MAX_FILE_BYTES // 1024**2} MiB allowed"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MissionFileError("file", f"not UTF-8 text (byte {exc.start})") from None
    start = text.lstrip()
    try:
        if start.startswith("QGC WPL"):
            return parse_wpl(text)
        if start.startswith("{"):
            return parse_qgc_plan(text.encode())
    except MissionFileError:
        raise
    except RecursionError:
        raise MissionFileError("file", "nested too deeply") from None
    except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:  # a bug, not the file
        raise MissionFileError("file", f"cannot be read ({type(exc).__name__})") from None
    named = f" ({filename[:80]!r})" if filename else ""
    raise MissionFileError(
        "file",
        f"the file{named} is neither a QGroundControl .plan (JSON) nor a QGC WPL 110 waypoint list",
    )
