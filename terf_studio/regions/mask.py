"""Region masks: a soft float image in [0, 1] with a label, a colour and where it came from.

Every operation returns a new :class:`Mask` and leaves its input untouched (the pixel
array of a mask is read-only), so an undo stack can keep the previous masks as they are.

Conventions
-----------
* ``data`` is float32 (H, W) in [0, 1]; 1 means "fully in the region".
* Binary questions (area, components, holes, RLE) treat a pixel as inside when its
  value is at least 0.5, except :meth:`Mask.bbox`, which covers every non-zero pixel
  so that a crop keeps the whole soft edge.
* Distances are Euclidean and measured between pixel centres: ``grow(1)`` turns a
  single pixel into a 3x3 *cross* (the four neighbours at distance 1 join, the
  diagonal ones at distance 1.41 do not); ``grow(2)`` gives a 5x5 disc without
  its corners.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import io
import json
import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, PngImagePlugin
from scipy import ndimage

from terf_studio.errors import ImageReadError
from terf_studio.imaging import png_stream, store
from terf_studio.imaging.io import MAX_PIXELS, atomic_write_bytes, png_dimensions, to_float

DEFAULT_COLOUR = (255, 64, 64)

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_META_KEY = "terf-mask"
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _as_data(data: np.ndarray) -> np.ndarray:
    array = np.asarray(data)
    if array.ndim != 2:
        raise ValueError(f"a mask is a 2-D array, got shape {array.shape}")
    if store.goes_to_disk(array.size * 4):  # a large document's mask lives in a scratch file
        out = store.empty(array.shape, np.float32)
        for top in range(0, array.shape[0], store.BAND_ROWS):  # converted a band at a time
            out[top : top + store.BAND_ROWS] = to_float(array[top : top + store.BAND_ROWS], clip=True)
    else:
        out = np.ascontiguousarray(to_float(array, clip=True))
        if np.shares_memory(out, array):
            out = out.copy()  # callers keep their array
    out.flags.writeable = False
    return out


def _as_colour(colour: Iterable[int]) -> tuple[int, int, int]:
    values = tuple(int(c) for c in colour)
    if len(values) != 3 or not all(0 <= c <= 255 for c in values):
        raise ValueError(f"a mask colour is three integers in 0..255, got {colour!r}")
    return values


def _decode_large_grey(data: bytes, width: int, height: int) -> np.ndarray | None:
    """A large grey mask PNG decoded a band at a time into a scratch-file array (the float mask
    made from it is too, see ``_as_data``); None when it is small or not a streamable grey PNG."""
    if not store.goes_to_disk(width * height * 4):
        return None
    try:
        _, _, depth, channels = png_stream.header(io.BytesIO(data[:64]))
    except ValueError:
        return None
    if channels != 1:
        return None
    pixels = store.empty((height, width), np.uint8 if depth == 8 else np.uint16)
    try:
        png_stream.read_png_into(io.BytesIO(data), pixels)
    except png_stream.UnsupportedPng:
        return None
    return pixels


class _Levels:
    """A float mask's rows at a PNG's depth, rounded a band at a time (for png_stream)."""

    def __init__(self, data: np.ndarray, bit_depth: int) -> None:
        self.data, self.top = data, np.float32(255 if bit_depth == 8 else 65535)
        self.shape, self.ndim = data.shape, data.ndim
        self.dtype = np.dtype(np.uint8 if bit_depth == 8 else np.uint16)

    def __getitem__(self, rows: slice) -> np.ndarray:
        band = self.data[rows]
        out = np.empty(band.shape, self.dtype)
        for y0 in range(0, len(band), 512):  # no float copy of a large mask
            out[y0 : y0 + 512] = np.rint(band[y0 : y0 + 512] * self.top)
        return out


def disc(radius: float) -> np.ndarray:
    """Boolean footprint of all offsets within Euclidean ``radius`` of the centre."""
    r = int(np.floor(radius))
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    return (xx * xx + yy * yy) <= radius * radius + 1e-9


@dataclass(frozen=True, eq=False)
class Mask:
    """A soft region mask at image size.

    ``label`` is what the region is called ("person", "sky", "stroke 3"),
    ``colour`` the RGB colour the editor draws it in, ``source`` what made it
    ("manual", "point", "box", "builtin:thermal", ...) and ``confidence`` how
    sure that source was, in [0, 1].
    """

    data: np.ndarray
    label: str = ""
    colour: tuple[int, int, int] = DEFAULT_COLOUR
    source: str = "manual"
    confidence: float = 1.0
    _binary_cache: list = field(default_factory=list, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", _as_data(self.data))
        object.__setattr__(self, "colour", _as_colour(self.colour))
        object.__setattr__(self, "label", str(self.label))
        object.__setattr__(self, "source", str(self.source))
        object.__setattr__(self, "confidence", float(np.clip(self.confidence, 0.0, 1.0)))

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls, shape: tuple[int, int], **meta: Any) -> Mask:
        """An all-zero mask of ``shape`` (H, W)."""
        return cls(np.zeros(shape[:2], np.float32), **meta)

    @classmethod
    def full(cls, shape: tuple[int, int], **meta: Any) -> Mask:
        """An all-one mask of ``shape`` (H, W)."""
        return cls(np.ones(shape[:2], np.float32), **meta)

    def with_data(self, data: np.ndarray) -> Mask:
        """The same label, colour and metadata with new pixels."""
        return dataclasses.replace(self, data=data)

    def with_meta(self, **changes: Any) -> Mask:
        """A copy with some of ``label``, ``colour``, ``source``, ``confidence`` changed."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ queries
    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape

    @property
    def binary(self) -> np.ndarray:
        """Boolean (H, W): pixels with value >= 0.5 (read-only, computed once)."""
        if not self._binary_cache:
            b = self.data >= 0.5
            b.flags.writeable = False
            self._binary_cache.append(b)
        return self._binary_cache[0]

    @property
    def area(self) -> int:
        """Number of pixels with value >= 0.5."""
        return int(np.count_nonzero(self.binary))

    @property
    def is_empty(self) -> bool:
        """True when no pixel is above zero."""
        return not bool(np.any(self.data > 0))

    @property
    def is_binary(self) -> bool:
        """True when every pixel is exactly 0 or 1."""
        d = self.data
        return bool(np.all((d == 0) | (d == 1)))

    def bbox(self, margin: int = 0) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) of the non-zero pixels, end-exclusive, grown by ``margin``
        pixels on each side and clipped to the image; None for an empty mask."""
        rows = np.flatnonzero(np.any(self.data > 0, axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(np.any(self.data > 0, axis=0))
        h, w = self.shape
        m = int(margin)
        return (
            max(int(cols[0]) - m, 0),
            max(int(rows[0]) - m, 0),
            min(int(cols[-1]) + 1 + m, w),
            min(int(rows[-1]) + 1 + m, h),
        )

    def iou(self, other: Mask | np.ndarray) -> float:
        """Intersection over union of the binary masks (1.0 when both are empty)."""
        a = self.binary
        b = other.binary if isinstance(other, Mask) else np.asarray(other) >= 0.5
        union = np.count_nonzero(a | b)
        return 1.0 if union == 0 else float(np.count_nonzero(a & b) / union)

    # ------------------------------------------------------------------ set operations
    def _other(self, other: Mask | np.ndarray) -> np.ndarray:
        data = other.data if isinstance(other, Mask) else _as_data(other)
        if data.shape != self.shape:
            raise ValueError(f"mask sizes differ: {self.shape} and {data.shape}")
        return data

    def union(self, other: Mask | np.ndarray) -> Mask:
        """Pixel-wise maximum."""
        return self.with_data(np.maximum(self.data, self._other(other)))

    def intersect(self, other: Mask | np.ndarray) -> Mask:
        """Pixel-wise minimum."""
        return self.with_data(np.minimum(self.data, self._other(other)))

    def subtract(self, other: Mask | np.ndarray) -> Mask:
        """This mask where ``other`` is not: min(a, 1 - b)."""
        return self.with_data(np.minimum(self.data, 1.0 - self._other(other)))

    def invert(self) -> Mask:
        """1 - data."""
        return self.with_data(1.0 - self.data)

    __or__ = union
    __and__ = intersect
    __sub__ = subtract
    __invert__ = invert

    # ------------------------------------------------------------------ morphology
    def grow(self, pixels: float) -> Mask:
        """Dilate by a disc of radius ``pixels`` (Euclidean, pixel centres).

        A binary mask gains every pixel within ``pixels`` of it (exact, via a distance
        transform); a soft mask is grey-dilated with the same disc. A negative value
        shrinks.
        """
        if pixels < 0:
            return self.shrink(-pixels)
        if pixels == 0 or self.is_empty:
            return self.with_data(self.data)
        if self.is_binary:
            outside_dist = _distance_to(self.binary)
            return self.with_data(outside_dist <= pixels + 1e-6)
        kernel = disc(pixels).astype(np.uint8)
        return self.with_data(cv2.dilate(self.data, kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0))

    def shrink(self, pixels: float) -> Mask:
        """Erode by a disc of radius ``pixels`` (the complement grows).

        The image border is not an edge of the region: a full mask stays full.
        """
        if pixels < 0:
            return self.grow(-pixels)
        return self.invert().grow(pixels).invert()

    def fill_holes(self, max_area: int | None = None) -> Mask:
        """Set to 1 the background areas enclosed by the mask (not touching the image
        border), only those of at most ``max_area`` pixels when given."""
        b = self.binary
        if max_area is None:
            holes = ndimage.binary_fill_holes(b) & ~b
        else:
            labels, n = ndimage.label(~b)  # 4-connected background: an 8-connected ring encloses
            if n == 0:
                return self.with_data(self.data)
            border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
            sizes = np.bincount(labels.ravel(), minlength=n + 1)
            keep = sizes <= max_area
            keep[border] = False
            keep[0] = False
            holes = keep[labels]
        return self.with_data(np.maximum(self.data, holes.astype(np.float32)))

    def remove_specks(self, min_area: int) -> Mask:
        """Zero every 8-connected piece with fewer than ``min_area`` pixels >= 0.5.

        Pieces are the connected parts of the non-zero pixels, so a speck's soft
        edge goes with it.
        """
        support = self.data > 0
        labels, n = ndimage.label(support, structure=_EIGHT_CONNECTED)
        if n == 0:
            return self.with_data(self.data)
        sizes = np.bincount(labels[self.binary], minlength=n + 1)
        drop = sizes < min_area
        drop[0] = False
        data = self.data.copy()
        data[drop[labels]] = 0.0
        return self.with_data(data)

    def keep_largest(self, count: int = 1) -> Mask:
        """Keep only the ``count`` largest 8-connected pieces."""
        support = self.data > 0
        labels, n = ndimage.label(support, structure=_EIGHT_CONNECTED)
        if n <= count:
            return self.with_data(self.data)
        sizes = np.bincount(labels[self.binary], minlength=n + 1)
        sizes[0] = -1
        keep = np.zeros(n + 1, bool)
        keep[np.argsort(sizes)[::-1][:count]] = True
        keep[0] = False
        return self.with_data(np.where(keep[labels], self.data, 0.0))

    def feather(self, pixels: float) -> Mask:
        """A soft edge ``pixels`` wide, centred on the binary outline.

        The value follows a smoothstep of the signed distance to the outline: pixels
        deeper than ``pixels / 2`` inside are 1, those further than ``pixels / 2``
        outside are 0, and the band between holds values strictly between 0 and 1
        (the 0.5 level stays on the original edge, so the area barely changes).
        A soft input is thresholded at 0.5 first; ``feather(0)`` returns that binary mask.
        """
        b = self.binary
        if pixels <= 0 or not b.any() or b.all():
            return self.with_data(b)
        inside = _distance_to(~b) - 0.5  # >0 inside: distance from the pixel centre to the edge
        outside = _distance_to(b) - 0.5
        signed = np.where(b, inside, -outside)
        t = np.clip(signed / np.float32(pixels) + 0.5, 0.0, 1.0)
        return self.with_data(t * t * (3.0 - 2.0 * t))

    def resized(self, shape: tuple[int, int]) -> Mask:
        """Resampled to ``shape`` (H, W): area averaging when shrinking, linear when enlarging."""
        h, w = shape[:2]
        if (h, w) == self.shape:
            return self.with_data(self.data)
        shrinking = h * w < self.data.size
        interp = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        return self.with_data(cv2.resize(self.data, (w, h), interpolation=interp))

    # ------------------------------------------------------------------ PNG
    def quantized(self, bit_depth: int = 16) -> Mask:
        """The mask exactly as a PNG of ``bit_depth`` stores it, so saving and reopening it
        changes no value (an editor keeps its masks on this grid)."""
        top = 255 if bit_depth == 8 else 65535
        levels = np.rint(self.data * np.float32(top))
        return self.with_data(levels.astype(np.uint8 if bit_depth == 8 else np.uint16))

    def to_png_bytes(self, bit_depth: int = 8) -> bytes:
        """A grey PNG (8 or 16 bit) of the mask; label, colour, source and confidence
        travel in a text chunk. 8-bit is exact for masks whose values are multiples
        of 1/255 (all binary masks), 16-bit for multiples of 1/65535."""
        if bit_depth not in (8, 16):
            raise ValueError(f"a mask PNG is 8 or 16 bit, not {bit_depth}")
        levels = _Levels(self.data, bit_depth)
        if self.data.size * levels.dtype.itemsize >= png_stream.STREAM_BYTES:
            buffer = io.BytesIO()  # a large mask: no whole copy at the PNG's depth either
            png_stream.write_png(buffer, levels, level=6, text={_PNG_META_KEY: json.dumps(self._meta())})
            return buffer.getvalue()
        img = Image.fromarray(levels[0 : self.data.shape[0]])
        info = PngImagePlugin.PngInfo()
        info.add_text(_PNG_META_KEY, json.dumps(self._meta()))
        buffer = io.BytesIO()
        img.save(buffer, format="PNG", pnginfo=info, optimize=False, compress_level=6)
        return buffer.getvalue()

    @classmethod
    def from_png_bytes(cls, data: bytes, **meta: Any) -> Mask:
        """Decode a mask PNG (8/16-bit grey; colour PNGs use their luma, an alpha channel
        if present is the mask). Metadata saved by :meth:`to_png_bytes` is restored;
        keyword arguments override it."""
        if not data.startswith(_PNG_SIGNATURE):
            raise ValueError("not PNG data")
        width, height = png_dimensions(data)  # checked before Pillow decodes it to read the text
        if width * height > MAX_PIXELS:
            raise ValueError(f"it is too large ({width}x{height}, the limit is {MAX_PIXELS / 1e6:.0f} MP)")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(data)) as img:
                    text = dict(getattr(img, "text", {}) or {})
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for damaged files
            raise ValueError(f"damaged PNG data ({' '.join(str(exc).split())})") from None
        pixels = _decode_large_grey(data, width, height)
        if pixels is None:
            pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise ValueError("damaged PNG data")
        if pixels.ndim == 3:
            if pixels.shape[2] in (2, 4):
                pixels = pixels[:, :, -1]
            else:
                pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        saved = {}
        if _PNG_META_KEY in text:
            try:
                saved = {k: v for k, v in json.loads(text[_PNG_META_KEY]).items() if k in _META_FIELDS}
            except (ValueError, AttributeError, RecursionError):
                saved = {}
            _check_meta(saved)
        saved.update(meta)
        return cls(pixels, **saved)

    def save_png(self, path: str | os.PathLike, bit_depth: int = 8) -> None:
        """Write :meth:`to_png_bytes` to ``path`` (replaced only once complete)."""
        atomic_write_bytes(path, self.to_png_bytes(bit_depth), what="mask")

    @classmethod
    def load_png(cls, path: str | os.PathLike, **meta: Any) -> Mask:
        """Read a mask PNG written by :meth:`save_png` (or any grey PNG)."""
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ImageReadError(f"cannot read mask '{os.fspath(path)}': {exc.strerror or exc}") from None
        try:
            return cls.from_png_bytes(data, **meta)
        except ValueError as exc:
            raise ImageReadError(f"cannot read mask '{os.fspath(path)}': {exc}") from None

    # ------------------------------------------------------------------ RLE and dicts
    def to_rle(self) -> dict:
        """Uncompressed COCO run-length encoding of a binary mask.

        ``{"size": [H, W], "counts": [...]}``: run lengths over the pixels in
        column-major order, starting with a (possibly empty) run of zeros. Raises
        ValueError for a soft mask: threshold it (``Mask(m.binary)``) or use PNG.
        """
        if not self.is_binary:
            raise ValueError("RLE stores binary masks only; threshold the mask or use PNG")
        flat = self.binary.ravel(order="F")
        change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
        bounds = np.concatenate([[0], change, [flat.size]])
        counts = np.diff(bounds).tolist()
        if flat.size and flat[0]:
            counts.insert(0, 0)
        return {"size": [int(self.shape[0]), int(self.shape[1])], "counts": counts}

    @classmethod
    def from_rle(cls, rle: dict, **meta: Any) -> Mask:
        """Inverse of :meth:`to_rle`."""
        try:
            h, w = (int(v) for v in rle["size"])
            counts = np.asarray(rle["counts"], dtype=np.int64)
        except (KeyError, TypeError, OverflowError) as exc:  # a record read from a file: untrusted
            raise ValueError(f"not an RLE record ({exc})") from None
        if not (0 < h and 0 < w and h * w <= MAX_PIXELS) or counts.ndim != 1:
            raise ValueError(f"RLE size {h}x{w} is empty or above the image limit")
        if counts.sum() != h * w or (counts < 0).any():
            raise ValueError(f"RLE counts do not add up to {h}x{w} pixels")
        values = np.arange(counts.size) % 2 == 1
        flat = np.repeat(values, counts)
        return cls(flat.reshape((h, w), order="F"), **meta)

    def to_dict(self) -> dict:
        """A JSON-ready record for projects and undo: RLE for a binary mask, otherwise
        a base64 16-bit PNG, plus the metadata."""
        record = self._meta()
        if self.is_binary:
            record["rle"] = self.to_rle()
        else:
            record["png16"] = base64.b64encode(self.to_png_bytes(16)).decode("ascii")
        return record

    @classmethod
    def from_dict(cls, record: dict) -> Mask:
        """Inverse of :meth:`to_dict`; ValueError for a record that is not one."""
        if not isinstance(record, dict):
            raise ValueError("a mask record is a JSON object")
        meta = {k: record[k] for k in _META_FIELDS if k in record}
        _check_meta(meta)
        if "rle" in record:
            return cls.from_rle(record["rle"], **meta)
        if "png16" in record:
            try:
                data = base64.b64decode(record["png16"])
            except (TypeError, binascii.Error) as exc:
                raise ValueError(f"not a base64 mask PNG ({exc})") from None
            return cls.from_png_bytes(data, **meta)
        raise ValueError("a mask record needs 'rle' or 'png16'")

    def _meta(self) -> dict:
        return {
            "label": self.label,
            "colour": list(self.colour),
            "source": self.source,
            "confidence": self.confidence,
        }

    def __repr__(self) -> str:
        h, w = self.shape
        return (
            f"Mask({h}x{w}, label={self.label!r}, area={self.area}, source={self.source!r}, "
            f"confidence={self.confidence:.2f})"
        )


_META_FIELDS = ("label", "colour", "source", "confidence")


def _check_meta(saved: dict[str, Any]) -> None:
    """Metadata read from a file is untrusted: a ValueError names a field of the wrong type."""
    for key in ("label", "source"):
        if key in saved and not isinstance(saved[key], str):
            raise ValueError(f"damaged mask metadata ({key} is not text)")
    colour = saved.get("colour", DEFAULT_COLOUR)
    if not (isinstance(colour, (list, tuple)) and len(colour) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in colour)):
        raise ValueError("damaged mask metadata (colour is not three integers in 0..255)")
    confidence = saved.get("confidence", 1.0)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not np.isfinite(confidence):
        raise ValueError("damaged mask metadata (confidence is not a number)")


def _distance_to(region: np.ndarray) -> np.ndarray:
    """Euclidean distance from each pixel centre to the nearest pixel of ``region``
    (0 inside it; a large value everywhere when it is empty)."""
    if not region.any():
        return np.full(region.shape, np.float32(1e9))
    # cv2.distanceTransform measures to the nearest zero pixel.
    src = np.where(region, 0, 255).astype(np.uint8)
    return cv2.distanceTransform(src, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def overlay(image: np.ndarray, masks: Iterable[Mask], alpha: float = 0.5, outline: bool = True) -> np.ndarray:
    """Tint ``image`` (grey or RGB; float in [0, 1], uint8 or uint16) with each mask's
    colour and outline it; returns RGB float32 in [0, 1].

    Meant for previews and exported check pictures, not for editing.
    """
    rgb = to_float(np.asarray(image), clip=True)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[:, :, None], 3, axis=2)
    out = rgb.copy()
    for mask in masks:
        colour = np.asarray(mask.colour, np.float32) / 255.0
        a = (alpha * mask.data)[:, :, None]
        out = out * (1.0 - a) + colour * a
        if outline and mask.area:
            b = mask.binary.astype(np.uint8)
            edge = (b - cv2.erode(b, np.ones((3, 3), np.uint8))).astype(bool)
            out[edge] = colour
    return np.clip(out, 0.0, 1.0)
