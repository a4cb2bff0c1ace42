"""Checks that a weights file is whole: its SHA-256 and the CRCs of a PyTorch zip archive.

``torch.load`` does not check the CRC-32 that the zip format stores for each member, so a file
with damaged bytes in the middle of a tensor loads without complaint and gives wrong (often
all-black) output. :func:`archive_problem` reads every member and compares its CRC first.
Both checks read the whole file, so their results are kept per process, keyed by the file's
path, modification time and size: a file changed in place is checked again.
"""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
import zlib
from pathlib import Path

_CHUNK = 1 << 20
_lock = threading.Lock()
_digests: dict[tuple[str, int, int], str] = {}
_archives: dict[tuple[str, int, int], str | None] = {}


def _key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def sha256_of(path: str | os.PathLike) -> str:
    """The file's SHA-256 (hex), computed once per process for each (path, mtime, size)."""
    path = Path(path)
    key = _key(path)
    with _lock:
        found = _digests.get(key)
    if found is not None:
        return found
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _lock:
        _digests[key] = value
    return value


def archive_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` is not a whole PyTorch zip archive (truncated, a damaged member, not a zip
    at all), or None when every member's CRC matches. One short phrase, without the path."""
    path = Path(path)
    key = _key(path)
    with _lock:
        if key in _archives:
            return _archives[key]
    problem = _check_archive(path)
    with _lock:
        _archives[key] = problem
    return problem


def _check_archive(path: Path) -> str | None:
    with path.open("rb") as f:
        head = f.read(4)
    if not head:
        return "the file is empty"
    if head != b"PK\x03\x04":
        what = "a pickle, not a zip archive" if head[:1] == b"\x80" else "not a zip archive"
        return f"it is {what} (PyTorch weights are a zip archive written by torch.save)"
    try:
        with zipfile.ZipFile(path) as archive:
            if not any(name.endswith("data.pkl") for name in archive.namelist()):
                return "the archive holds no PyTorch data.pkl (not a torch.save file)"
            bad = archive.testzip()
    except zipfile.BadZipFile:
        return "the zip archive is truncated or damaged (its directory cannot be read)"
    except (zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
        return f"the zip archive is damaged ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
    if bad is not None:
        return f"the zip archive is damaged (member '{bad}' fails its CRC check)"
    return None


def clear_cache() -> None:
    """Forget every computed digest and archive check (tests)."""
    with _lock:
        _digests.clear()
        _archives.clear()
