"""Large image arrays kept in files instead of memory.

A document near the 179 MP limit holds several whole images (the pair and the result on the
16-bit grid: 20 bytes a pixel, 3.6 GB). Arrays of at least :func:`disk_bytes` are therefore
allocated as ``np.memmap`` over a file in the scratch folder: the operating system keeps the
pages it has room for and writes the rest back to disk, so such a document fits a machine (or a
memory limit) smaller than its arrays. The file is unlinked as soon as it is mapped, so nothing
is left behind after a crash or a kill; its space returns when the array is freed.

The scratch folder is ``$TERF_STUDIO_SCRATCH``, else ``terf-studio/scratch`` in the user cache
folder, not the temporary folder, which is often memory itself (tmpfs). The threshold is
``$TERF_STUDIO_DISK_ARRAYS_MB`` megabytes (default 256; 0 keeps every array in memory).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import weakref
from pathlib import Path

import numpy as np

from terf_studio.errors import TerfError

DEFAULT_DISK_MB = 256
#: Rows copied or converted at a time into a disk-backed array (bounds the temporaries).
BAND_ROWS = 256


def disk_bytes() -> int | None:
    """Arrays of at least this many bytes go to disk; None: none does."""
    raw = os.environ.get("TERF_STUDIO_DISK_ARRAYS_MB", "").strip()
    try:
        mb = float(raw) if raw else DEFAULT_DISK_MB
    except ValueError:
        mb = DEFAULT_DISK_MB
    return None if mb <= 0 else int(mb * 2**20)


def goes_to_disk(nbytes: int) -> bool:
    """Whether an array of ``nbytes`` is made in a scratch file (see :func:`disk_bytes`)."""
    limit = disk_bytes()
    return limit is not None and nbytes >= limit and nbytes > 0


def scratch_folder() -> Path:
    explicit = os.environ.get("TERF_STUDIO_SCRATCH")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "terf-studio" / "scratch"


def on_disk(array: np.ndarray) -> bool:
    """Whether ``array`` (or the array it views) lives in a scratch file."""
    current: np.ndarray | None = array
    while current is not None:
        if isinstance(current, np.memmap) and getattr(current, "_mmap", None) is not None:
            return True  # (a copy of a memmap is a memmap without a mapping)
        current = current.base if isinstance(current.base, np.ndarray) else None
    return False


def empty(shape: tuple[int, ...], dtype: np.dtype | type) -> np.ndarray:
    """An uninitialised array: in memory when small, in an unlinked scratch file when large."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if not goes_to_disk(nbytes):
        return np.empty(shape, dtype)
    folder = scratch_folder()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="terf-studio-array-", suffix=".raw", dir=folder)
        array: np.ndarray | None = None
        try:
            _reserve(fd, nbytes)
            array = np.memmap(path, dtype=dtype, mode="r+", shape=shape)
        finally:
            os.close(fd)
            try:
                os.unlink(path)  # the mapping keeps the space until the array is freed
            except OSError:  # a system that cannot remove a mapped file: removed with the array
                if array is not None:
                    weakref.finalize(array, _unlink_quietly, path)
    except OSError as exc:
        need = f"{nbytes / 2**30:.1f} GB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MB"
        raise TerfError(f"cannot keep a {need} image in the scratch folder {folder}: "
                        f"{exc.strerror or exc} (set TERF_STUDIO_SCRATCH to a folder with room)") from None
    return array


def _reserve(fd: int, nbytes: int) -> None:
    """Give the file its size with the disk space reserved now, so a full disk is a one-line
    error here rather than a crash (SIGBUS) when a page is first written. Where the system or
    the file system cannot reserve (macOS, some network file systems), the file is only sized."""
    allocate = getattr(os, "posix_fallocate", None)
    if allocate is not None:
        try:
            allocate(fd, 0, nbytes)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise
    os.ftruncate(fd, nbytes)


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def copy_of(image: np.ndarray) -> np.ndarray:
    """A copy of ``image``, in a scratch file when large (copied a band of rows at a time)."""
    out = empty(image.shape, image.dtype)
    if not on_disk(out):
        np.copyto(out, image)
        return out
    for top in range(0, image.shape[0], BAND_ROWS):
        out[top : top + BAND_ROWS] = image[top : top + BAND_ROWS]
    return out


def kept(image: np.ndarray) -> np.ndarray:
    """``image`` itself, or when it is large and in memory, a copy in a scratch file: what a
    document keeps for its lifetime."""
    if not goes_to_disk(image.nbytes) or on_disk(image):
        return image
    return copy_of(image)


def scaled_u16(image: np.ndarray) -> np.ndarray:
    """A uint8 image on the 16-bit grid (x 257, exact), in a scratch file when large."""
    out = empty(image.shape, np.uint16)
    for top in range(0, max(image.shape[0], 1), BAND_ROWS):
        np.multiply(image[top : top + BAND_ROWS], np.uint16(257), out=out[top : top + BAND_ROWS],
                    dtype=np.uint16)
    return out
