"""Decoding a large TIFF a band of rows at a time, by OpenCV, into a scratch-file array.

OpenCV holds twice the decoded image while it decodes a TIFF (measured: 228 MB for a 114 MB
16-bit RGB image), as for a PNG (:mod:`.png_bands`). TIFF strips and tiles are compressed each on
its own, so a band of them can be handed to OpenCV as a small TIFF of its own: the decoding tags
of the first directory copied, the height set to the band's, and the strip (or tile) tables
pointing at the band's data, copied after the directory. Whatever compression libtiff reads
(none, LZW, Deflate, PackBits, JPEG, ...) is decoded as for the whole file. Uncompressed data is
cut at any row (a band is then one strip made of its rows' bytes), so a file stored as one huge
strip still decodes in bands.

Covers classic TIFF (not BigTIFF) in strips or tiles, samples interleaved or in planes.
:func:`layout` returns None for anything else, and the caller decodes the file whole as before:
a compressed image whose strips or tiles are taller than half of it (no gain), old-style JPEG
(compression 6, whose tables are found by offsets), a directory this reader does not follow.
"""

from __future__ import annotations

import math
import mmap
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

import cv2
import numpy as np

from terf_studio.imaging import store, tiff_stream

#: rows per small TIFF (at least one strip or tile row)
BAND_ROWS = 256

#: a file's bytes: read, mapped or viewed
Data = Union[bytes, mmap.mmap, memoryview]

_TYPE_BYTES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_SHORT, _LONG = 3, 4
_WIDTH, _HEIGHT, _BITS, _COMPRESSION, _SAMPLES, _PLANAR = 256, 257, 258, 259, 277, 284
_STRIP_OFFSETS, _ROWS_PER_STRIP, _STRIP_COUNTS = 273, 278, 279
_TILE_WIDTH, _TILE_LENGTH, _TILE_OFFSETS, _TILE_COUNTS = 322, 323, 324, 325
_ORIENTATION = 274
#: Tags copied into each small TIFF: those that say how to decode the samples. Anything pointing
#: elsewhere in the file (EXIF, sub-images, private blocks) stays out.
_DECODING_TAGS = frozenset({
    254, _WIDTH, _BITS, _COMPRESSION, 262, 266, _SAMPLES, _PLANAR, 290, 291, 301, 317, 318, 319, 320,
    _TILE_WIDTH, _TILE_LENGTH, 332, 333, 334, 338, 339, 340, 341, 347, 529, 530, 531, 532, 32995,
})


class DamagedTiff(ValueError):
    """The file is truncated or its directory is damaged (the message says which)."""


@dataclass(frozen=True)
class Entry:
    kind: int
    count: int
    value: bytes  # as stored, in the file's byte order


@dataclass(frozen=True)
class Layout:
    order: str  # "<" or ">"
    entries: dict[int, Entry]
    width: int
    height: int
    bits: tuple[int, ...]
    compressed: bool
    planes: int  # 1 when samples are interleaved, else the samples per pixel
    segment_rows: int  # rows per strip or per tile
    tile_width: int | None  # None: strips
    offsets: np.ndarray
    counts: np.ndarray

    def decoded_bytes(self) -> int:
        """What OpenCV's array of the image holds (at least one byte per sample)."""
        return self.width * self.height * sum(max(b, 8) // 8 for b in self.bits)

    @property
    def cuts_anywhere(self) -> bool:
        """Uncompressed whole-byte samples in strips: a band may start at any row."""
        return not self.compressed and self.tile_width is None and all(b % 8 == 0 for b in self.bits)

    @property
    def across(self) -> int:
        """Segments side by side in one plane (1 for strips)."""
        return 1 if self.tile_width is None else math.ceil(self.width / self.tile_width)

    @property
    def down(self) -> int:
        return math.ceil(self.height / self.segment_rows)

    @property
    def orientation(self) -> int:
        """The Orientation tag (1-8; 1 when absent or invalid). OpenCV applies it even when asked
        for the samples unchanged; the bands leave it out, so the caller applies it."""
        entry = self.entries.get(_ORIENTATION)
        if entry is None or entry.kind not in (_SHORT, _LONG) or entry.count < 1:
            return 1
        found = int(_ints(entry, self.order)[0])
        return found if found in range(1, 9) else 1


def _ints(entry: Entry, order: str) -> np.ndarray:
    if entry.kind not in (_SHORT, _LONG):
        raise DamagedTiff("damaged TIFF directory (a size or offset is not an integer)")
    return np.frombuffer(entry.value, f"{order}u{2 if entry.kind == _SHORT else 4}").astype(np.int64)


def _directory(data: Data) -> tuple[str, dict[int, Entry]] | None:
    """(byte order, the first directory's entries), or None when ``data`` is no classic TIFF."""
    magic = bytes(data[:4])
    order = {b"II*\x00": "<", b"MM\x00*": ">"}.get(magic)
    if order is None or len(data) < 8:
        return None
    (start,) = struct.unpack(order + "I", data[4:8])
    if start + 2 > len(data):
        raise DamagedTiff("file is truncated")
    (n,) = struct.unpack(order + "H", data[start : start + 2])
    if start + 2 + 12 * n > len(data):
        raise DamagedTiff("file is truncated")
    entries = {}
    for i in range(n):
        at = start + 2 + 12 * i
        tag, kind, count = struct.unpack(order + "HHI", data[at : at + 8])
        size = _TYPE_BYTES.get(kind, 0) * count
        if size == 0:
            continue  # an unknown type: not one of the tags that matter here
        if size <= 4:
            value = bytes(data[at + 8 : at + 8 + size])
        else:
            (where,) = struct.unpack(order + "I", data[at + 8 : at + 12])
            if where + size > len(data):
                raise DamagedTiff("file is truncated")
            value = bytes(data[where : where + size])
        entries[tag] = Entry(kind, count, value)
    return order, entries


def layout(data: Data) -> Layout | None:
    """The first image's layout, or None when this module does not cover it (see the module
    notes). :class:`DamagedTiff` when the directory or its tables are cut off or inconsistent."""
    found = _directory(data)
    if found is None:
        return None
    order, entries = found
    if _WIDTH not in entries or _HEIGHT not in entries:
        return None
    tiled = _TILE_OFFSETS in entries
    if not tiled and _STRIP_OFFSETS not in entries:
        return None

    def one(tag: int, default: int) -> int:
        entry = entries.get(tag)
        return int(_ints(entry, order)[0]) if entry is not None else default

    width, height = one(_WIDTH, 0), one(_HEIGHT, 0)
    compression, samples = one(_COMPRESSION, 1), one(_SAMPLES, 1)
    if width <= 0 or height <= 0 or samples <= 0 or compression == 6:
        return None
    bits = tuple(int(b) for b in _ints(entries[_BITS], order)) if _BITS in entries else (1,)
    bits = bits if len(bits) == samples else bits[:1] * samples
    planes = samples if one(_PLANAR, 1) == 2 else 1
    if tiled:
        tile_width, rows = one(_TILE_WIDTH, 0), one(_TILE_LENGTH, 0)
        offsets, counts = entries[_TILE_OFFSETS], entries.get(_TILE_COUNTS)
        if tile_width <= 0 or rows <= 0:
            return None
    else:
        tile_width, rows = None, min(one(_ROWS_PER_STRIP, height), height)
        offsets, counts = entries[_STRIP_OFFSETS], entries.get(_STRIP_COUNTS)
        if rows <= 0:
            return None
    if counts is None:
        return None
    found_layout = Layout(order, entries, width, height, bits, compression != 1, planes, rows, tile_width,
                          _ints(offsets, order), _ints(counts, order))
    expected = found_layout.across * found_layout.down * planes
    if len(found_layout.offsets) != expected or len(found_layout.counts) != expected:
        raise DamagedTiff("damaged TIFF directory (its strip or tile tables do not match the image size)")
    if np.any(found_layout.offsets + found_layout.counts > len(data)):
        raise DamagedTiff("file is truncated")
    if not found_layout.cuts_anywhere and 2 * rows > height:
        return None
    return found_layout


def _small_tiff(head: Layout, rows: int, segment_rows: int, segments: list[bytes]) -> bytes:
    """A TIFF of one band: ``rows`` rows in ``segments`` (strips of ``segment_rows`` rows, or
    tiles), the decoding tags of ``head`` copied. The segments follow the header; the directory
    comes last, as :func:`.tiff_stream.write_tiff` lays a file out."""
    order = head.order
    offsets_tag, counts_tag = (_TILE_OFFSETS, _TILE_COUNTS) if head.tile_width else (_STRIP_OFFSETS, _STRIP_COUNTS)
    entries = {tag: e for tag, e in head.entries.items() if tag in _DECODING_TAGS}
    entries[_HEIGHT] = Entry(_LONG, 1, struct.pack(order + "I", rows))
    if not head.tile_width:
        entries[_ROWS_PER_STRIP] = Entry(_LONG, 1, struct.pack(order + "I", segment_rows))
    offsets, position = [], 8
    for segment in segments:
        offsets.append(position)
        position += len(segment)
    entries[offsets_tag] = Entry(_LONG, len(segments), struct.pack(f"{order}{len(segments)}I", *offsets))
    entries[counts_tag] = Entry(_LONG, len(segments),
                                struct.pack(f"{order}{len(segments)}I", *(len(s) for s in segments)))
    at = position + position % 2  # word boundary
    header = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", at)
    ifd = tiff_stream.directory([(tag, e.kind, e.count, e.value) for tag, e in entries.items()], at, order)
    return header + b"".join(segments) + b"\x00" * (at - position) + ifd


def _segments(data: Data, head: Layout, first: int, last: int) -> list[bytes]:
    """The stored strips or tiles of segment rows ``first`` to ``last`` (excluded), plane by plane."""
    view = memoryview(data)
    per_plane = head.across * head.down
    picked = []
    for plane in range(head.planes):
        for i in range(plane * per_plane + first * head.across, plane * per_plane + last * head.across):
            start, size = int(head.offsets[i]), int(head.counts[i])
            picked.append(bytes(view[start : start + size]))
    return picked


def _row_bytes(data: Data, head: Layout, top: int, rows: int) -> list[bytes]:
    """Uncompressed rows ``top`` to ``top + rows``, one strip per plane, cut from the stored strips."""
    view = memoryview(data)
    samples = 1 if head.planes > 1 else len(head.bits)
    row_size = head.width * samples * head.bits[0] // 8
    strips = []
    for plane in range(head.planes):
        pieces, row = [], top
        while row < top + rows:
            strip = row // head.segment_rows
            index = plane * head.down + strip
            strip_end = min((strip + 1) * head.segment_rows, head.height, top + rows)
            start = int(head.offsets[index]) + (row - strip * head.segment_rows) * row_size
            end = start + (strip_end - row) * row_size
            if end > int(head.offsets[index]) + int(head.counts[index]):
                raise DamagedTiff("damaged TIFF data (a strip is shorter than its rows)")
            pieces.append(view[start:end])
            row = strip_end
        strips.append(b"".join(pieces))
    return strips


def _bands(data: Data, head: Layout, band_rows: int) -> Iterator[tuple[int, int, bytes]]:
    """(first row, rows, small TIFF) of each band."""
    if head.cuts_anywhere:
        for top in range(0, head.height, band_rows):
            rows = min(band_rows, head.height - top)
            yield top, rows, _small_tiff(head, rows, rows, _row_bytes(data, head, top, rows))
        return
    step = max(1, band_rows // head.segment_rows)
    for first in range(0, head.down, step):
        last = min(first + step, head.down)
        top = first * head.segment_rows
        rows = min(last * head.segment_rows, head.height) - top
        yield top, rows, _small_tiff(head, rows, head.segment_rows, _segments(data, head, first, last))


def decode_in_bands(data: Data, head: Layout, band_rows: int | None = None) -> np.ndarray:
    """The image as ``cv2.imdecode(..., IMREAD_UNCHANGED)`` gives it, in a scratch-file array
    when large. :class:`DamagedTiff` for a damaged file. ``band_rows``: rows per band (default
    :data:`BAND_ROWS`; a band holds at least one strip or tile row)."""
    out: np.ndarray | None = None
    for top, rows, small in _bands(data, head, band_rows or BAND_ROWS):
        band = cv2.imdecode(np.frombuffer(small, np.uint8), cv2.IMREAD_UNCHANGED)
        if band is None or band.shape[:2] != (rows, head.width) or (out is not None and (
                band.shape[2:] != out.shape[2:] or band.dtype != out.dtype)):
            raise DamagedTiff("damaged TIFF data (a band of rows does not decode)")
        if out is None:
            out = store.empty((head.height, *band.shape[1:]), band.dtype)
        out[top : top + rows] = band
    assert out is not None  # a TIFF has at least one row
    return out
