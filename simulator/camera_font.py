"""A tiny 5x7 bitmap font of our own, for the simulated camera's overlay text.

Only what the overlay writes: digits, a few capitals and punctuation. Glyphs are
pre-rendered at a scale into rows of luma bytes, so drawing a character is a handful of
slice assignments (drawing pixel by pixel in Python would cost a core at 15 fps).
"""

from __future__ import annotations

from functools import cache

_GLYPHS: dict[str, tuple[str, ...]] = {
    "0": ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    "1": ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    "2": ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    "3": ("11110", "00001", "00001", "01110", "00001", "00001", "11110"),
    "4": ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    "5": ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    "6": ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    "7": ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    "8": ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    "9": ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
    ":": ("00000", "01100", "01100", "00000", "01100", "01100", "00000"),
    ".": ("00000", "00000", "00000", "00000", "00000", "01100", "01100"),
    "-": ("00000", "00000", "00000", "11111", "00000", "00000", "00000"),
    " ": ("00000",) * 7,
    "A": ("01110", "10001", "10001", "11111", "10001", "10001", "10001"),
    "D": ("11110", "10001", "10001", "10001", "10001", "10001", "11110"),
    "E": ("11111", "10000", "10000", "11110", "10000", "10000", "11111"),
    "G": ("01110", "10001", "10000", "10111", "10001", "10001", "01111"),
    "H": ("10001", "10001", "10001", "11111", "10001", "10001", "10001"),
    "L": ("10000", "10000", "10000", "10000", "10000", "10000", "11111"),
    "M": ("10001", "11011", "10101", "10101", "10001", "10001", "10001"),
    "N": ("10001", "11001", "10101", "10011", "10001", "10001", "10001"),
    "O": ("01110", "10001", "10001", "10001", "10001", "10001", "01110"),
    "S": ("01111", "10000", "10000", "01110", "00001", "00001", "11110"),
    "T": ("11111", "00100", "00100", "00100", "00100", "00100", "00100"),
    "W": ("10001", "10001", "10001", "10101", "10101", "10101", "01010"),
}
GLYPH_W = 5
GLYPH_H = 7
INK = 235
"""Luma of the text (video-range white)."""
PAPER = 16
"""Luma behind the text (video-range black), so it reads on sky and ground alike."""


@cache
def glyph_rows(char: str, scale: int) -> tuple[bytes, ...]:
    """``char`` at ``scale`` as rows of luma bytes, one pixel of paper on its right."""
    pattern = _GLYPHS.get(char, _GLYPHS[" "])
    rows = []
    for line in pattern:
        row = b"".join(bytes([INK if bit == "1" else PAPER]) * scale for bit in line)
        row += bytes([PAPER]) * scale
        rows.extend([row] * scale)
    return tuple(rows)


def draw_text(
    luma: bytearray, width: int, height: int, x: int, y: int, text: str, scale: int
) -> None:
    """Write ``text`` into a luma plane (``width`` bytes a row) at ``x, y``; clipped to it."""
    step = (GLYPH_W + 1) * scale
    for n, char in enumerate(text):
        left = x + n * step
        if left + step > width:
            return
        for r, row in enumerate(glyph_rows(char, scale)):
            top = y + r
            if 0 <= top < height and left >= 0:
                start = top * width + left
                luma[start : start + len(row)] = row
