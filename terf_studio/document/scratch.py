"""Scratch files: an edit's pixels kept on disk instead of in memory (large undo steps).

Each file is named after the process that made it (``terf-studio-patch-PID-*.png`` in the
scratch folder of :mod:`terf_studio.imaging.store`, not the temporary folder, which is often
memory itself) and removed when its owner drops it or exits normally. After a crash or a
kill the files stay behind; :func:`sweep_orphans` removes those whose process is gone. It runs
once in every process that makes a scratch file, and when the editor starts.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import IO

from terf_studio.errors import TerfError
from terf_studio.imaging.store import scratch_folder

PREFIX = "terf-studio-patch-"
_NAME = re.compile(re.escape(PREFIX) + r"(\d+)-[^/]*\.png$")
_swept = False


class ScratchFile:
    """Bytes kept in a temporary file, removed when this object is. Immutable: copies share it.

    ``data`` is the bytes, or a function that writes them to the open file (a large image
    encoded straight to disk, never whole in memory)."""

    def __init__(self, data: bytes | Callable[[IO[bytes]], None]) -> None:
        global _swept
        if not _swept:
            _swept = True
            sweep_orphans()
        try:
            folder = scratch_folder()
            folder.mkdir(parents=True, exist_ok=True)
            fd, path = tempfile.mkstemp(prefix=f"{PREFIX}{os.getpid()}-", suffix=".png", dir=folder)
        except OSError as exc:
            raise TerfError(f"could not keep an edit's pixels in a scratch file: {exc}") from None
        try:
            with os.fdopen(fd, "wb") as f:
                if callable(data):
                    data(f)
                else:
                    f.write(data)
        except OSError as exc:
            Path(path).unlink(missing_ok=True)
            raise TerfError(f"could not keep an edit's pixels in a scratch file: {exc}") from None
        except BaseException:
            Path(path).unlink(missing_ok=True)
            raise
        self.path = path
        weakref.finalize(self, _unlink_quietly, path)

    def read(self) -> bytes:
        try:
            return Path(self.path).read_bytes()
        except OSError as exc:
            raise self._lost(exc) from None

    @property
    def size(self) -> int:
        try:
            return os.path.getsize(self.path)
        except OSError as exc:
            raise self._lost(exc) from None

    def open(self) -> IO[bytes]:
        """The file, open for reading (the caller closes it)."""
        try:
            return open(self.path, "rb")  # noqa: SIM115 - returned to the caller
        except OSError as exc:
            raise self._lost(exc) from None

    @staticmethod
    def _lost(exc: OSError) -> TerfError:
        return TerfError(f"an edit's pixels were lost from their scratch file: {exc}")

    def __copy__(self) -> ScratchFile:
        return self

    def __deepcopy__(self, memo: dict) -> ScratchFile:
        return self


def sweep_orphans(folder: str | os.PathLike | None = None) -> int:
    """Remove the scratch files of processes that no longer run; returns how many went.
    Files of running processes (this one included) and anything not named like ours stay."""
    removed = 0
    try:
        entries = list(os.scandir(str(folder or scratch_folder())))
    except OSError:
        return 0
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or _running(int(match.group(1))) or not entry.is_file(follow_symlinks=False):
            continue
        with contextlib.suppress(OSError):
            os.unlink(entry.path)
            removed += 1
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's process, or not ours to judge: keep its files
    return True


def _unlink_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
