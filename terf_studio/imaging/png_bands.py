"""Decoding a large PNG a band of rows at a time, by OpenCV, into a scratch-file array.

OpenCV decodes a PNG with twice the decoded image in memory (measured: 229 MB for a 114 MB
16-bit RGB image), so a 179 MP 16-bit RGB file would take 2.1 GB. Here the compressed rows are
inflated a band at a time and each band is handed to OpenCV as a small PNG of its own, so the
filters (Sub, Up, Average, Paeth) are undone by libpng as for the whole file. A band's first
row may refer to the row above it, so each small PNG starts with that row, already decoded,
stored unfiltered; it is dropped from the result. Memory: a few bands, whatever the image size.

Covers the common layouts: 8- or 16-bit grey, RGB and RGBA, not interlaced, without a
transparent colour (``tRNS``). :func:`decode_in_bands` returns None for anything else, and the
caller decodes the file whole as before.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

import cv2
import numpy as np
from PIL import ExifTags, Image

from terf_studio.imaging import png_stream, store

#: colour type -> samples per pixel (grey, RGB, RGBA); grey + alpha and palettes are left out
_CHANNELS = {0: 1, 2: 3, 6: 4}
#: rows per small PNG
BAND_ROWS = 256
_INPUT_PIECE = 1 << 20  # compressed bytes fed to zlib at a time


#: a file's bytes: read, mapped or viewed
Data = Union[bytes, mmap.mmap, memoryview]


class DamagedPng(ValueError):
    """The file is truncated or its data is damaged (the message says which)."""


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    depth: int
    colour: int
    interlaced: bool

    @property
    def channels(self) -> int:
        return _CHANNELS.get(self.colour, 0)

    @property
    def row_bytes(self) -> int:
        return self.width * self.channels * self.depth // 8

    def decoded_bytes(self) -> int:
        """What OpenCV's array of the image holds."""
        return self.width * self.height * max(self.channels, 1) * (2 if self.depth == 16 else 1)


def _chunks(data: Data) -> Iterator[tuple[bytes, memoryview, int]]:
    """(type, data, stored CRC) of each chunk after the signature; stops at IEND or the end."""
    view = memoryview(data)
    pos = len(png_stream.SIGNATURE)
    while pos + 8 <= len(view):
        length, kind = struct.unpack(">I4s", view[pos : pos + 8])
        end = pos + 8 + length
        if end + 4 > len(view):
            raise DamagedPng("file is truncated")
        (crc,) = struct.unpack(">I", view[end : end + 4])
        yield kind, view[pos + 8 : end], crc
        if kind == b"IEND":
            return
        pos = end + 4
    raise DamagedPng("file is truncated")


def header(data: Data) -> Header | None:
    """The IHDR fields, or None when ``data`` is no PNG."""
    if bytes(data[:8]) != png_stream.SIGNATURE or bytes(data[12:16]) != b"IHDR" or len(data) < 33:
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data[16:29])
    return Header(width, height, depth, colour, interlace != 0)


class _Inflater:
    """The image's filtered rows, inflated on demand from the IDAT chunks (CRCs checked)."""

    def __init__(self, data: Data) -> None:
        self._pieces = self._idat_pieces(data)
        self._zlib = zlib.decompressobj()
        self._buffer = bytearray()

    @staticmethod
    def _idat_pieces(data: Data) -> Iterator[memoryview]:
        for kind, payload, crc in _chunks(data):
            if kind != b"IDAT":
                continue
            if zlib.crc32(payload, zlib.crc32(kind)) != crc:
                raise DamagedPng("damaged PNG data (an image chunk fails its checksum)")
            for start in range(0, len(payload), _INPUT_PIECE):
                yield payload[start : start + _INPUT_PIECE]

    def take(self, size: int) -> bytes:
        while len(self._buffer) < size:
            source = self._zlib.unconsumed_tail or next(self._pieces, None)
            if source is None:
                raise DamagedPng("file is truncated")
            try:
                self._buffer += self._zlib.decompress(source, max(size - len(self._buffer), 1 << 16))
            except zlib.error as exc:
                raise DamagedPng(f"damaged PNG data ({exc})") from None
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


def orientation(data: Data) -> int:
    """The EXIF orientation of an ``eXIf`` chunk (1 when there is none or it is unreadable)."""
    for kind, payload, _ in _chunks(data):
        if kind == b"eXIf":
            try:
                value = Image.Exif()
                value.load(bytes(payload))
                found = int(value.get(ExifTags.Base.Orientation, 1))
            except Exception:  # noqa: BLE001 - damaged metadata: the pixels still count
                return 1
            return found if found in range(1, 9) else 1
    return 1


def _raw_row(row: np.ndarray, head: Header) -> bytes:
    """One decoded row (OpenCV's channel order and byte order) as the PNG stores it unfiltered."""
    if head.channels == 3:
        row = row[:, ::-1]
    elif head.channels == 4:
        row = row[:, [2, 1, 0, 3]]
    return row.astype(">u2" if head.depth == 16 else np.uint8).tobytes()


def decode_in_bands(data: Data, band_rows: int | None = None) -> np.ndarray | None:
    """The image as ``cv2.imdecode(..., IMREAD_UNCHANGED)`` gives it, in a scratch-file array
    when large; None for a layout this does not cover. :class:`DamagedPng` for a damaged file.
    ``band_rows``: rows per band (default :data:`BAND_ROWS`)."""
    band_rows = band_rows or BAND_ROWS
    head = header(data)
    if head is None or head.interlaced or head.depth not in (8, 16) or head.channels == 0:
        return None
    if any(kind == b"tRNS" for kind, _, _ in _chunks(data)):
        return None
    shape = (head.height, head.width) if head.channels == 1 else (head.height, head.width, head.channels)
    out = store.empty(shape, np.uint16 if head.depth == 16 else np.uint8)
    inflater = _Inflater(data)
    above: bytes | None = None
    for top in range(0, head.height, band_rows):
        rows = min(band_rows, head.height - top)
        filtered = inflater.take(rows * (head.row_bytes + 1))
        lead = b"" if above is None else b"\x00" + above  # the row above, unfiltered
        ihdr = struct.pack(">IIBBBBB", head.width, rows + (above is not None), head.depth, head.colour, 0, 0, 0)
        small = (png_stream.SIGNATURE + png_stream.chunk(b"IHDR", ihdr)
                 + png_stream.chunk(b"IDAT", zlib.compress(lead + filtered, 0)) + png_stream.chunk(b"IEND", b""))
        band = cv2.imdecode(np.frombuffer(small, np.uint8), cv2.IMREAD_UNCHANGED)
        if band is None or band.shape[1:] != shape[1:]:
            raise DamagedPng("damaged PNG data (a band of rows does not decode)")
        band = band[1:] if above is not None else band
        out[top : top + rows] = band
        above = _raw_row(band[-1], head)
    return out
