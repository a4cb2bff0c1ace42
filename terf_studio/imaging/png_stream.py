"""PNG written and read a band of rows at a time, for images too large to encode whole.

OpenCV encodes a PNG from the whole array (plus a BGR copy) into one buffer in memory: for a
16-bit image near the 179 MP limit that is over 2 GB beside the image. Here rows go through
zlib band by band straight to the file, and the image may be a disk-backed array
(:mod:`.store`). Each row is written with PNG's "Up" filter (its difference to the row above,
which compresses photographs about as well as OpenCV's choice and needs no per-pixel loop to
undo); :func:`read_png_into` reads files with the filters None, Sub and Up (what this module and
most streaming writers use) into an existing array, also band by band; other files are read
whole by the normal image path.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Protocol

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
BAND_ROWS = 128
#: Images of at least this many bytes are written (and, where the caller can, read) this way.
STREAM_BYTES = 64 * 2**20
_CHUNK_BYTES = 1 << 20
_COLOUR_TYPES = {1: 0, 3: 2}  # channels -> PNG colour type (grey, RGB)


class UnsupportedPng(ValueError):
    """The file is a valid PNG this streaming reader does not handle (filters 3-4, palettes,
    interlacing...): read it whole instead."""


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data and CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _row_bytes(band: np.ndarray) -> np.ndarray:
    """A band of uint8/uint16 rows as PNG sample bytes (16-bit samples big-endian), (rows, stride)."""
    if band.dtype == np.uint16:
        band = band.astype(">u2", copy=False)
    return np.ascontiguousarray(band).view(np.uint8).reshape(band.shape[0], -1)


class Bands(Protocol):
    """What :func:`write_png` reads: an array, or anything that gives one band of rows at a time
    (``source[top:bottom]``) with an array's ``shape``, ``ndim`` and ``dtype``."""

    shape: tuple[int, ...]
    ndim: int
    dtype: np.dtype

    def __getitem__(self, rows: slice) -> np.ndarray: ...


def write_png(f: IO[bytes], image: np.ndarray | Bands, level: int = 3, text: dict[str, str] | None = None,
              check: Callable[[], None] | None = None) -> None:
    """Write a (H, W) grey or (H, W, 3) RGB uint8/uint16 ``image`` to the binary file ``f``;
    ``text``: Latin-1 ``tEXt`` chunks (keyword: text) before the pixels; ``check`` is called
    before each band (it raises to stop: a cancelled save)."""
    if image.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"a PNG holds uint8 or uint16 samples, not {image.dtype}")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels not in _COLOUR_TYPES or image.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    height, width = image.shape[:2]
    depth = 8 * image.dtype.itemsize
    f.write(SIGNATURE)
    f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, _COLOUR_TYPES[channels], 0, 0, 0)))
    for key, value in (text or {}).items():
        f.write(chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")))
    compressor = zlib.compressobj(level)
    pending: list[bytes] = []
    size = 0
    previous = np.zeros(width * channels * image.dtype.itemsize, np.uint8)
    for top in range(0, height, BAND_ROWS):
        if check is not None:
            check()
        rows = _row_bytes(image[top : top + BAND_ROWS])
        above = np.concatenate((previous[None], rows[:-1]))
        filtered = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
        filtered[:, 0] = 2  # Up
        np.subtract(rows, above, out=filtered[:, 1:])  # modulo 256, as PNG defines it
        previous = rows[-1].copy()
        out = compressor.compress(filtered.tobytes())
        if out:
            pending.append(out)
            size += len(out)
        if size >= _CHUNK_BYTES:
            f.write(chunk(b"IDAT", b"".join(pending)))
            pending, size = [], 0
    pending.append(compressor.flush())
    f.write(chunk(b"IDAT", b"".join(pending)))
    f.write(chunk(b"IEND", b""))


def header(f: IO[bytes]) -> tuple[int, int, int, int]:
    """(width, height, bit depth, channels) of the PNG at ``f``'s start (left after IHDR)."""
    if f.read(8) != SIGNATURE:
        raise ValueError("not PNG data")
    length, kind = struct.unpack(">I4s", f.read(8))
    data = f.read(length)
    f.read(4)
    if kind != b"IHDR" or len(data) != 13:
        raise ValueError("damaged PNG data (no header)")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data)
    channels = {0: 1, 2: 3}.get(colour)
    if channels is None or depth not in (8, 16) or interlace:
        raise UnsupportedPng("only non-interlaced 8/16-bit grey or RGB PNGs are streamed")
    return width, height, depth, channels


def _idat(f: IO[bytes]) -> Iterator[bytes]:
    while True:
        head = f.read(8)
        if len(head) < 8:
            raise ValueError("damaged PNG data (truncated)")
        length, kind = struct.unpack(">I4s", head)
        data = f.read(length)
        if len(data) < length or len(f.read(4)) < 4:
            raise ValueError("damaged PNG data (truncated)")
        if kind == b"IDAT":
            yield data
        elif kind == b"IEND":
            return


def read_png_into(f: IO[bytes], out: np.ndarray) -> None:
    """Decode the PNG at ``f`` into ``out`` ((H, W) or (H, W, 3), uint8/uint16 matching the
    file), a band of rows at a time. :class:`UnsupportedPng` for filters or formats it does not
    stream; ValueError for damaged data or a size that does not match ``out``."""
    width, height, depth, channels = header(f)
    expected = (height, width) if channels == 1 else (height, width, channels)
    if out.shape != expected or out.dtype.itemsize * 8 != depth:
        raise ValueError(f"the PNG holds {width}x{height}x{channels} at {depth} bits, not {out.shape} {out.dtype}")
    bpp = channels * depth // 8
    stride = width * bpp
    decompressor = zlib.decompressobj()
    buffer = bytearray()
    previous = np.zeros(stride, np.uint8)
    row = 0
    sample = np.dtype(">u2") if depth == 16 else np.dtype(np.uint8)

    def take_rows(count: int) -> None:
        nonlocal previous, row
        raw = np.frombuffer(bytes(buffer[: count * (stride + 1)]), np.uint8).reshape(count, stride + 1)
        del buffer[: count * (stride + 1)]
        rows = np.empty((count, stride), np.uint8)
        for i in range(count):
            kind, data = raw[i, 0], raw[i, 1:]
            if kind == 0:
                rows[i] = data
            elif kind == 2:
                np.add(data, previous, out=rows[i])
            elif kind == 1:
                np.cumsum(data.reshape(width, bpp), axis=0, dtype=np.uint8, out=rows[i].reshape(width, bpp))
            else:
                raise UnsupportedPng(f"PNG filter {int(kind)} is not streamed")
            previous = rows[i]
        out[row : row + count] = rows.view(sample).reshape(out[row : row + count].shape)
        row += count

    for data in _idat(f):
        try:
            buffer += decompressor.decompress(data, (BAND_ROWS + 1) * (stride + 1) * 4)
            while decompressor.unconsumed_tail:
                if len(buffer) >= BAND_ROWS * (stride + 1):
                    take_rows(min(len(buffer) // (stride + 1), height - row))
                buffer += decompressor.decompress(decompressor.unconsumed_tail, (BAND_ROWS + 1) * (stride + 1) * 4)
        except zlib.error:
            raise ValueError("damaged PNG data (bad compressed stream)") from None
        ready = min(len(buffer) // (stride + 1), height - row)
        if ready >= BAND_ROWS or (ready and row + ready == height):
            take_rows(ready)
    ready = min(len(buffer) // (stride + 1), height - row)
    if ready:
        take_rows(ready)
    if row != height:
        raise ValueError(f"damaged PNG data (only {row} of {height} rows)")
