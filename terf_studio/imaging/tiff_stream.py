"""TIFF written a strip of rows at a time, for images too large to encode whole.

OpenCV encodes a TIFF from the whole array plus a BGR copy into one buffer in memory: for a
16-bit image near the 179 MP limit that is over 3 GB beside the image. Here each strip of
:data:`STRIP_ROWS` rows goes through zlib (TIFF's Deflate compression, code 8, with the
horizontal-differencing predictor, code 2, which libtiff, OpenCV, Pillow and every common
reader undo) straight to the file, and the image may be a disk-backed array (:mod:`.store`).
The file is a classic little-endian baseline TIFF: header, strips, then the one directory and
its strip tables; the header's pointer to the directory is filled in last.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Sequence
from typing import IO

import numpy as np

from terf_studio.imaging.png_stream import Bands

STRIP_ROWS = 16
_SHORT, _LONG = 3, 4
#: Classic TIFF addresses bytes with 32 bits.
_LIMIT = 2**32 - 1


def _predicted(strip: np.ndarray) -> np.ndarray:
    """Horizontal differencing (predictor 2): each sample minus the same channel's sample to its
    left, wrapping in the sample type; the first column is kept."""
    out = np.array(strip, copy=True)
    out[:, 1:] -= strip[:, :-1]
    return out


def directory(entries: Sequence[tuple[int, int, int, bytes]], at: int, order: str = "<") -> bytes:
    """A TIFF directory to be placed at byte ``at`` of its file: the entry count, the entries
    ((tag, type, count, value bytes in ``order``) sorted by tag, values of up to 4 bytes in
    place), the next-directory pointer (0), then the longer values, each on a word boundary."""
    extra = at + 2 + 12 * len(entries) + 4
    table, overflow = b"", b""
    for tag, kind, count, value in sorted(entries):
        if len(value) <= 4:
            table += struct.pack(order + "HHI", tag, kind, count) + value.ljust(4, b"\x00")
        else:
            table += struct.pack(order + "HHII", tag, kind, count, extra + len(overflow))
            overflow += value + b"\x00" * (len(value) % 2)
    return struct.pack(order + "H", len(entries)) + table + struct.pack(order + "I", 0) + overflow


def write_tiff(f: IO[bytes], image: np.ndarray | Bands, level: int = 6,
               check: Callable[[], None] | None = None) -> None:
    """Write a (H, W) grey or (H, W, 3) RGB uint8/uint16 ``image`` to the seekable binary file
    ``f``; ``check`` is called between strips (to cancel)."""
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    bits = 16 if image.dtype == np.uint16 else 8
    start = f.tell()
    f.write(b"II*\x00" + struct.pack("<I", 0))  # the directory's place, written at the end
    offsets, counts = [], []
    for top in range(0, height, STRIP_ROWS):
        if check is not None:
            check()
        strip = np.asarray(image[top : top + STRIP_ROWS])
        data = zlib.compress(_predicted(strip).astype(f"<u{bits // 8}", copy=False).tobytes(), level)
        offsets.append(f.tell() - start)
        counts.append(len(data))
        f.write(data)
    entries: list[tuple[int, int, int, bytes]] = []  # tag, type, count, value bytes

    def add(tag: int, kind: int, values: list[int]) -> None:
        entries.append((tag, kind, len(values), struct.pack(f"<{len(values)}{'H' if kind == _SHORT else 'I'}",
                                                            *values)))

    add(256, _LONG, [width])
    add(257, _LONG, [height])
    add(258, _SHORT, [bits] * channels)
    add(259, _SHORT, [8])  # Deflate
    add(262, _SHORT, [2 if channels == 3 else 1])  # RGB, or grey with black at 0
    add(273, _LONG, offsets)
    add(277, _SHORT, [channels])
    add(278, _LONG, [STRIP_ROWS])
    add(279, _LONG, counts)
    add(284, _SHORT, [1])  # samples interleaved
    add(317, _SHORT, [2])  # horizontal differencing
    at = f.tell() - start
    at += at % 2  # word boundary
    ifd = directory(entries, at)
    if start + at + len(ifd) > _LIMIT:
        raise ValueError(f"a {width}x{height} image does not fit in a classic TIFF file (4 GB)")
    f.seek(start + at)
    f.write(ifd)
    f.seek(start + 4)
    f.write(struct.pack("<I", at))
    f.seek(0, 2)
