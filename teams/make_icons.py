"""Draw the Teams app icons (color.png 192x192, outline.png 32x32) with the standard library.

Teams wants a full-colour icon and a white-on-transparent outline. Run it again
after changing a colour: `python teams/make_icons.py`.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAVY = (31, 58, 96, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)


def png(pixels: list[list[tuple[int, int, int, int]]]) -> bytes:
    """RGBA rows as a PNG file."""
    height, width = len(pixels), len(pixels[0])
    raw = b"".join(b"\x00" + b"".join(bytes(p) for p in row) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def mirror(size: int, ink, paper, *, ring: float, stroke: float) -> list[list[tuple]]:
    """A ring (the mirror the bot holds up) with a tick inside it."""
    c = (size - 1) / 2
    tick = [(0.30, 0.52), (0.45, 0.66), (0.72, 0.36)]
    rows = []
    for y in range(size):
        row = []
        for x in range(size):
            r = math.hypot(x - c, y - c) / size
            on_ring = abs(r - ring) < stroke / 2
            on_tick = any(
                _near_segment(x / size, y / size, a, b) < stroke / 2
                for a, b in zip(tick, tick[1:], strict=False)
            )
            row.append(ink if on_ring or on_tick else paper)
        rows.append(row)
    return rows


def _near_segment(px: float, py: float, a: tuple, b: tuple) -> float:
    (ax, ay), (bx, by) = a, b
    t = max(
        0.0,
        min(
            1.0, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)
        ),
    )
    return math.hypot(px - (ax + t * (bx - ax)), py - (ay + t * (by - ay)))


def main() -> None:
    (HERE / "color.png").write_bytes(png(mirror(192, WHITE, NAVY, ring=0.36, stroke=0.07)))
    (HERE / "outline.png").write_bytes(png(mirror(32, WHITE, CLEAR, ring=0.40, stroke=0.12)))


if __name__ == "__main__":
    main()
