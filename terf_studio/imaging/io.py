"""Reading and writing images as float32 arrays in [0, 1].

Pixels are decoded by OpenCV (it keeps 16-bit colour, which Pillow truncates to
8 bit). Pillow checks PNG, JPEG and BMP files first, because OpenCV's JPEG
decoder fills a truncated file with grey instead of failing, and Pillow
supplies the EXIF orientation, which OpenCV ignores with ``IMREAD_UNCHANGED``.
OpenCV's TIFF decoder applies the TIFF orientation tag itself.

Every decoder is bounded by one pixel limit, :data:`MAX_PIXELS`, checked from the file's
header before any pixels are decoded (Pillow's own "decompression bomb" warning is replaced
by that check, so the user sees one line of ours, never a raw warning).
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import struct
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, cast

import cv2
import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from terf_studio.errors import ImageReadError, TerfError
from terf_studio.imaging import png_bands, png_stream, store, tiff_bands, tiff_stream

_SIGNATURES = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"II+\x00": "TIFF",  # BigTIFF
    b"MM\x00+": "TIFF",
    b"BM": "BMP",
}

_WRITE_DEPTHS = {
    ".png": (8, 16),
    ".tif": (8, 16),
    ".tiff": (8, 16),
    ".jpg": (8,),
    ".jpeg": (8,),
    ".bmp": (8,),
}


#: The largest image any decoder of the project accepts, in pixels (about 179 MP: twice Pillow's
#: default ``MAX_IMAGE_PIXELS``, the size at which Pillow itself refuses a file). A 16-bit RGB
#: image of this size holds about 1 GB of pixels.
MAX_PIXELS = 178_956_970


def check_pixel_limit(width: int, height: int, what: str) -> None:
    """Refuse an image whose declared size is empty or above :data:`MAX_PIXELS`.

    ``what`` names the image in the one-line :class:`ImageReadError` (e.g. "image 'a.png'").
    """
    if width <= 0 or height <= 0:
        raise ImageReadError(f"cannot read {what}: it declares an empty size ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise ImageReadError(
            f"cannot read {what}: it is too large ({width}x{height} is {width * height / 1e6:.0f} MP, "
            f"the limit is {MAX_PIXELS / 1e6:.0f} MP)"
        )


def png_dimensions(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, without decoding; ``ValueError`` if it is no PNG."""
    if len(data) < 24 or not data.startswith(b"\x89PNG\r\n\x1a\n") or data[12:16] != b"IHDR":
        raise ValueError("not PNG data")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG, JPEG, TIFF or BMP image (8 or 16 bit) as float32 in [0, 1].

    Returns (H, W) for grey images, including colour files whose channels are
    all equal, and (H, W, 3) in RGB order otherwise. Alpha is dropped, palettes
    are expanded and the EXIF orientation is applied. Any failure raises
    :class:`ImageReadError` with a one-line message naming the file.
    """
    return to_float(read_image_stored(path))


def read_image_stored(path: str | os.PathLike) -> np.ndarray:
    """:func:`read_image` without the conversion to float: the samples as stored, uint8 or uint16.

    A third (8-bit) or a sixth (16-bit) of the float image's memory: large images are read this
    way and converted a tile at a time by whoever uses them. A large file is mapped rather than
    read (its pages stay the system's to drop), a large PNG or TIFF is decoded a band of rows at a
    time (:mod:`.png_bands`, :mod:`.tiff_bands`), and any other large result is moved into a
    scratch file (:mod:`.store`) before it is returned: at most one decoded copy is ever in memory.
    """
    with _file_data(path) as data:
        head = bytes(data[:8])
        fmt = next((name for sig, name in _SIGNATURES.items() if head.startswith(sig)), None)
        if fmt is None:
            raise _read_error(path, "not a PNG, JPEG, TIFF or BMP image")
        in_bands = _BAND_DECODERS.get(fmt)
        banded = in_bands(path, data) if in_bands is not None else None
        pixels: np.ndarray | None
        if banded is not None:
            pixels, orientation = banded
        else:
            if fmt == "TIFF":
                _check_tiff_size(path, data)
                orientation = 1
            else:
                orientation = _check_with_pillow(path, data, fmt)
            buffer = np.frombuffer(data, np.uint8)
            try:
                pixels = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
            except cv2.error:
                pixels = None
            finally:
                del buffer  # a mapped file can be closed only when nothing views it
    if pixels is None:
        raise _read_error(path, f"cannot decode the {fmt} data (the file is damaged or truncated)")
    if pixels.dtype not in (np.uint8, np.uint16):
        reason = f"{pixels.dtype} samples are not supported, only 8- and 16-bit images"
        raise _read_error(path, reason)
    upright = _orient(_to_grey_or_rgb(pixels), orientation)
    if store.on_disk(upright) and upright.flags.c_contiguous:
        return upright  # decoded in bands straight into a scratch file
    if store.goes_to_disk(upright.nbytes):
        return store.copy_of(upright)  # a band at a time; the decoded copy goes when we return
    return np.ascontiguousarray(upright)


def write_image(path: str | os.PathLike, image: np.ndarray, bit_depth: int = 8, in_place: bool = False) -> None:
    """Write a (H, W) or (H, W, 3) RGB image; the format follows the extension.

    Float input is clipped to [0, 1] and rounded; uint8/uint16 input is written
    unchanged when it matches ``bit_depth``. PNG and TIFF take 8 or 16 bits,
    JPEG and BMP 8 bits. Missing parent folders are created. The file is
    replaced only once the new one is complete.

    ``in_place``: a uint8/uint16 ``image`` at ``bit_depth`` has its channels put in the encoder's
    order within itself, and back afterwards, instead of in a copy (a large image is then not held
    twice; nothing else may read ``image`` meanwhile).
    """
    target = Path(path)
    ext = check_output_image_path(target, bit_depth)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    pixels = _quantize(image, bit_depth)
    if ext == ".png" and pixels.nbytes >= png_stream.STREAM_BYTES:  # never whole in memory again
        atomic_write_with(target, lambda f: png_stream.write_png(f, pixels), what="image")
        return
    if ext in (".tif", ".tiff") and pixels.nbytes >= png_stream.STREAM_BYTES:
        atomic_write_with(target, lambda f: tiff_stream.write_tiff(f, pixels), what="image")
        return
    swap = pixels.ndim == 3 and in_place and pixels is image and pixels.flags.c_contiguous and pixels.flags.writeable
    if pixels.ndim == 3 and not swap:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    if swap:
        _reverse_channels(pixels)
    try:
        ok, encoded = cv2.imencode(ext, pixels)
    finally:
        if swap:
            _reverse_channels(pixels)
    if not ok:
        raise TerfError(f"cannot write image '{target}': encoding as {ext} failed")
    atomic_write_bytes(target, encoded.data, what="image")  # the encoder's buffer itself, not a copy


def atomic_write_bytes(path: str | os.PathLike, data: bytes | memoryview, what: str = "file") -> None:
    """Write ``data`` to ``path`` through a ``.part`` file renamed into place, so ``path`` is
    either its old self or complete; missing folders are made. A failure (disk full, read-only
    folder) removes the ``.part`` file and is a one-line :class:`TerfError`."""
    atomic_write_with(path, lambda f: f.write(data), what)


def atomic_write_with(path: str | os.PathLike, write: Callable[[IO[bytes]], object], what: str = "file") -> None:
    """:func:`atomic_write_bytes` for a writer that streams into the open file."""
    target = Path(path)
    partial = target.with_name(target.name + ".part")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(partial, "wb") as f:
            write(f)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise TerfError(f"cannot write {what} '{target}': {exc.strerror or exc}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def check_output_image_path(path: str | os.PathLike, bit_depth: int = 8) -> str:
    """Check that :func:`write_image` can write ``path`` at ``bit_depth``; returns its extension.

    Commands call it before any work, so a wrong name fails at once, not after a long edit.
    """
    target = Path(path)
    ext = target.suffix.lower()
    if ext not in _WRITE_DEPTHS:
        raise TerfError(
            f"cannot write image '{target}': unsupported file type '{target.suffix}' "
            "(use .png, .tif, .tiff, .jpg, .jpeg or .bmp)"
        )
    if bit_depth not in _WRITE_DEPTHS[ext]:
        depths = " or ".join(f"{d}-bit" for d in _WRITE_DEPTHS[ext])
        raise TerfError(
            f"cannot write image '{target}': {ext} supports {depths}, not {bit_depth}-bit"
        )
    if target.is_dir():
        raise TerfError(f"cannot write image '{target}': it is a directory")
    return ext


def to_float(image: np.ndarray, clip: bool = False) -> np.ndarray:
    """uint8 (/255), uint16 (/65535) or bool (0/1) to float32; float arrays are cast, and with
    ``clip`` also cleaned (NaN -> 0, +inf -> 1, -inf -> 0) and clipped to [0, 1].

    The one place the project turns stored pixel values into floats in [0, 1].
    """
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255)
    if image.dtype == np.uint16:
        return image.astype(np.float32) / np.float32(65535)
    if image.dtype == bool:
        return image.astype(np.float32)
    if np.issubdtype(image.dtype, np.floating):
        out = image.astype(np.float32, copy=False)
        if clip:
            out = np.clip(np.nan_to_num(out, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
        return out
    raise ValueError(f"unsupported image dtype {image.dtype}; expected uint8, uint16, bool or float")


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float in [0, 1] (clipped, rounded) or uint16 to uint8; uint8 is returned as is."""
    return _quantize(image, 8)


def to_uint16(image: np.ndarray) -> np.ndarray:
    """Float in [0, 1] (clipped, rounded) or uint8 (x 257, exact) to uint16; uint16 is returned as is."""
    return _quantize(image, 16)


def _quantize(image: np.ndarray, bit_depth: int) -> np.ndarray:
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    if image.dtype == dtype:
        return image
    if image.dtype == np.uint8:  # to 16 bit: 255 * 257 == 65535, exact
        return image.astype(np.uint16) * np.uint16(257)
    unit = np.clip(np.nan_to_num(to_float(image), nan=0.0, posinf=1.0, neginf=0.0), 0, 1)
    return np.rint(unit * np.float32(np.iinfo(dtype).max)).astype(dtype)


def _read_error(path: str | os.PathLike, reason: str) -> ImageReadError:
    return ImageReadError(f"cannot read image '{os.fspath(path)}': {reason}")


#: Files of at least this many bytes are mapped into memory rather than read into it.
MAP_BYTES = 16 * 2**20


@contextlib.contextmanager
def _file_data(path: str | os.PathLike) -> Iterator[bytes | mmap.mmap]:
    """The file's bytes: read when small, mapped read-only when large (see :data:`MAP_BYTES`)."""
    if os.path.isdir(path):  # checked first: Windows reports a directory as "permission denied"
        raise _read_error(path, "it is a directory, not a file")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                raise _read_error(path, "file is empty")
            if size < MAP_BYTES:
                data: bytes | mmap.mmap = f.read()
            else:
                data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except FileNotFoundError:
        raise _read_error(path, "file not found") from None
    except PermissionError:
        raise _read_error(path, "permission denied") from None
    except OSError as exc:
        raise _read_error(path, exc.strerror or str(exc)) from None
    try:
        yield data
    finally:
        if isinstance(data, mmap.mmap):
            # A view may live on in an exception's traceback: the mapping then closes with it.
            with contextlib.suppress(BufferError):
                data.close()


def _png_in_bands(path: str | os.PathLike, data: bytes | mmap.mmap) -> tuple[np.ndarray, int] | None:
    """A large PNG decoded a band of rows at a time (:mod:`.png_bands`: OpenCV alone holds twice
    the image) and its EXIF orientation; None for a small one or a layout that module does not
    cover."""
    head = png_bands.header(data)
    if head is None:
        return None
    check_pixel_limit(head.width, head.height, f"image '{os.fspath(path)}'")
    if not store.goes_to_disk(head.decoded_bytes()):
        return None
    try:
        pixels = png_bands.decode_in_bands(data)
    except png_bands.DamagedPng as exc:
        raise _read_error(path, str(exc)) from None
    return None if pixels is None else (pixels, png_bands.orientation(data))


def _tiff_in_bands(path: str | os.PathLike, data: bytes | mmap.mmap) -> tuple[np.ndarray, int] | None:
    """A large TIFF decoded a band of strips or tiles at a time (:mod:`.tiff_bands`: OpenCV alone
    holds twice the image) and its orientation; None for a small one, a layout that module does
    not cover, or a directory it finds damaged (OpenCV, which reads more variants, then gives
    the verdict)."""
    try:
        head = tiff_bands.layout(data)
    except tiff_bands.DamagedTiff:
        return None
    if head is None:
        return None
    check_pixel_limit(head.width, head.height, f"image '{os.fspath(path)}'")
    if head.planes > 1 and max(head.bits) > 8:
        # OpenCV (libtiff's RGBA path) returns wrong samples for these, as does Pillow: refuse.
        raise _read_error(path, "16-bit colour planes stored separately (planar TIFF) are not supported; "
                                "save the image with interleaved samples")
    if not store.goes_to_disk(head.decoded_bytes()):
        return None
    try:
        return tiff_bands.decode_in_bands(data, head), head.orientation
    except tiff_bands.DamagedTiff as exc:
        raise _read_error(path, str(exc)) from None


#: format -> decoder of a large file a band of rows at a time: (pixels, orientation), or None
#: when the file is small or its layout is not covered (then it is decoded whole)
_BAND_DECODERS = {"PNG": _png_in_bands, "TIFF": _tiff_in_bands}


def _as_file(data: bytes | mmap.mmap) -> IO[bytes]:
    """A file object over the data for Pillow (a mapping is one already: no copy is made)."""
    if isinstance(data, mmap.mmap):
        data.seek(0)
        return cast(IO[bytes], data)
    return io.BytesIO(data)


def _check_with_pillow(path: str | os.PathLike, data: bytes | mmap.mmap, fmt: str) -> int:
    """Fully decode with Pillow to catch truncation; return the EXIF orientation.

    The size is checked against :data:`MAX_PIXELS` before decoding; Pillow's warnings are
    silenced (the bomb warning for images above half that size: our limit is the one that counts).
    """
    try:
        with warnings.catch_warnings():
            # Also Pillow's notes on damaged metadata ("Corrupt EXIF data"): the pixels are checked
            # here, and a raw warning must not reach the user beside our one-line verdict.
            warnings.simplefilter("ignore")
            with Image.open(_as_file(data)) as img:
                check_pixel_limit(img.width, img.height, f"image '{os.fspath(path)}'")
                img.load()
                orientation = img.getexif().get(ExifTags.Base.Orientation, 1)
    except ImageReadError:
        raise
    except UnidentifiedImageError:
        raise _read_error(path, f"the {fmt} header is damaged or incomplete") from None
    except Image.DecompressionBombError as exc:
        raise _read_error(path, f"image is too large ({exc})") from None
    except Exception as exc:  # Pillow raises many types for damaged files
        detail = " ".join(str(exc).split())
        truncated = "truncated" in detail.lower()
        reason = "file is truncated" if truncated else f"damaged {fmt} data ({detail})"
        raise _read_error(path, reason) from None
    return orientation if orientation in range(1, 9) else 1


def _check_tiff_size(path: str | os.PathLike, data: bytes | mmap.mmap) -> None:
    """Check a TIFF's declared size (Pillow reads the header only; OpenCV decodes the pixels).

    A header Pillow cannot read is left to OpenCV, which reads more TIFF variants.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the bomb warning and notes on damaged tags alike
            with Image.open(_as_file(data)) as img:
                width, height = img.size
    except Image.DecompressionBombError as exc:
        raise _read_error(path, f"image is too large ({exc})") from None
    except Exception:  # noqa: BLE001 - OpenCV gets the last word on unusual TIFFs
        return
    check_pixel_limit(width, height, f"image '{os.fspath(path)}'")


#: Rows per band when a whole image is compared or reordered a band at a time (no full-size temporaries).
_BAND_ROWS = 256


def _to_grey_or_rgb(pixels: np.ndarray) -> np.ndarray:
    """Drop alpha, BGR to RGB, and collapse equal channels to one grey channel.

    Done a band of rows at a time and, for a plain 3-channel image, in place: a large image is
    never held twice (the decoded array is ours alone).
    """
    if pixels.ndim == 3:
        if pixels.shape[2] in (1, 2):  # grey, or grey + alpha
            return pixels[:, :, 0]
        bgr = pixels[:, :, :3]
        if _channels_equal(bgr):
            return bgr[:, :, 0]
        if pixels.shape[2] != 3:  # alpha: a new array without it
            return bgr[:, :, ::-1]
        _reverse_channels(pixels)
        return pixels
    return pixels


def _reverse_channels(pixels: np.ndarray) -> None:
    """RGB <-> BGR within ``pixels`` (H, W, 3), a band of rows at a time."""
    for y0 in range(0, pixels.shape[0], _BAND_ROWS):
        band = pixels[y0 : y0 + _BAND_ROWS]
        band[...] = band[:, :, ::-1].copy()


def _channels_equal(bgr: np.ndarray) -> bool:
    for y0 in range(0, bgr.shape[0], _BAND_ROWS):
        band = bgr[y0 : y0 + _BAND_ROWS]
        if not (np.array_equal(band[:, :, 0], band[:, :, 1]) and np.array_equal(band[:, :, 0], band[:, :, 2])):
            return False
    return True


def _orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) so the image displays upright: a view of ``pixels``."""
    if orientation in (5, 6, 7, 8):
        # 5: transpose, 6: rotate 90 clockwise, 7: transverse, 8: rotate 90 counter-clockwise
        pixels = np.swapaxes(pixels, 0, 1)
        orientation = {5: 1, 6: 2, 7: 3, 8: 4}[orientation]
    if orientation in (2, 3):
        pixels = pixels[:, ::-1]
    if orientation in (3, 4):
        pixels = pixels[::-1]
    return pixels
