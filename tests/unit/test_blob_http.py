import pytest

from control_plane.api.blobs import RangeNotSatisfiable, content_disposition, parse_range
from control_plane.services.blobs import clean_filename


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-10", (90, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-1", None),
    ],
)
def test_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=50-10", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 100)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\mission.plan", "mission.plan"),
        ("a\x00b\r\nc.txt", "abc.txt"),
        ("..", "file"),
        ("", "file"),
        ("航线.plan", "航线.plan"),
    ],
)
def test_filenames_lose_folders_and_control_characters(raw: str, clean: str) -> None:
    assert clean_filename(raw) == clean


def test_content_disposition_carries_utf8_and_an_ascii_fallback() -> None:
    value = content_disposition('航线 "1".plan')
    assert value.startswith('attachment; filename="')
    assert "filename*=UTF-8''%E8%88%AA%E7%BA%BF%20%221%22.plan" in value
    assert '"1"' not in value.split(";")[1]
