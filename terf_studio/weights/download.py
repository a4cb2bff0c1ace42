"""Downloading a registered model (``terf-studio models download``): the one network operation.

:func:`download_model` fetches a file from its official URL with progress, resumes a partial
``.part`` file with an HTTP Range request, checks size and SHA-256, and renames the file into
place only when it passes. Nothing else in the project touches the network.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from terf_studio.errors import ModelError
from terf_studio.weights import registry
from terf_studio.weights.registry import (
    _CHUNK,
    Installed,
    ModelSpec,
    _checked_text,
    _type_problem,
    _verify_digest,
    get_spec,
    problem_with,
)

if TYPE_CHECKING:
    from http.client import HTTPResponse


def _offline_hint(spec: ModelSpec) -> str:
    return f"get {spec.filename} another way and run `terf-studio models add {spec.name} FILE`"


def _open(url: str, offset: int, timeout: float) -> HTTPResponse:
    import urllib.request

    from terf_studio import __version__

    headers = {"User-Agent": f"terf-studio/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def _network_error(spec: ModelSpec, url: str, exc: BaseException) -> ModelError:
    import urllib.error
    import urllib.parse

    host = urllib.parse.urlsplit(url).netloc or url
    if isinstance(exc, urllib.error.HTTPError):
        return ModelError(f"download of {spec.name} failed: {url} answered HTTP {exc.code} {exc.reason}")
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, OSError) and reason.strerror:
        reason = reason.strerror
    if isinstance(reason, TimeoutError) or "timed out" in str(reason):
        reason = "timed out"
    return ModelError(f"cannot reach {host} to download {spec.name} ({reason}): offline? {_offline_hint(spec)}")


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def download_model(
    name: str,
    url: str | None = None,
    dest_dir: str | os.PathLike | None = None,
    progress: bool = True,
    timeout: float = 30.0,
) -> Installed:
    """Fetch a model file from its official URL (or ``url``, e.g. a mirror) into ``dest_dir``
    (default: :func:`user_models_dir`).

    The bytes go to ``FILENAME.part`` beside the target; an existing ``.part`` is resumed
    with an HTTP Range request (a server that ignores the range sends the whole file, and the
    download starts over). When the file is complete its size and SHA-256 are checked (where
    known) and it is renamed into place; a mismatch deletes the ``.part`` and installs
    nothing. An interrupted transfer keeps the ``.part`` so the same command resumes it.
    Every failure is a one-line :class:`ModelError`. ``progress`` shows a tqdm bar on stderr.
    """
    import http.client
    import urllib.error

    spec = get_spec(name)
    if spec.is_folder:
        raise ModelError(f"{spec.name} is a folder of files with no single download: {spec.how_to_get}")
    url = url or spec.url
    if not url:
        raise ModelError(f"{spec.name} has no official download: {spec.how_to_get}")
    dest = Path(dest_dir).expanduser() if dest_dir is not None else registry.user_models_dir()
    target = dest / spec.filename
    if target.is_file() and problem_with(spec, target) is None:
        return Installed(spec.name, target, "already present (size checked)" if spec.size else "already present")
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"cannot create {dest}: {exc.strerror or exc}") from None
    part = dest / f"{spec.filename}.part"
    offset = part.stat().st_size if part.is_file() else 0
    if spec.size is not None and offset > spec.size:
        part.unlink()
        offset = 0

    digest = hashlib.sha256()
    response = None
    if not (spec.size is not None and offset == spec.size):  # else the part only needs checking
        try:
            response = _open(url, offset, timeout)
        except urllib.error.HTTPError as exc:
            if exc.code != 416 or not offset:  # 416: nothing past the part; check it as it is
                raise _network_error(spec, url, exc) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            raise _network_error(spec, url, exc) from None
        except ValueError as exc:  # not a URL urllib can open
            raise ModelError(f"cannot download {spec.name} from {url!r}: {exc}") from None
    if response is not None:
        with response:
            offset, total = _resume_point(spec, url, response, offset)
            if offset:
                with part.open("rb") as f:
                    for block in iter(lambda: f.read(_CHUNK), b""):
                        digest.update(block)
            with part.open("ab" if offset else "wb") as out:
                _stream(spec, url, response, out, digest, offset, total, progress)
    else:
        with part.open("rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                digest.update(block)

    size = part.stat().st_size
    if spec.size is not None and size < spec.size:
        raise ModelError(f"download of {spec.name} stopped at {size:,} of {spec.size:,} bytes; "
                         f"run the same command again to resume")
    problem = problem_with(spec, part) or _type_problem(spec, part)
    if problem or (spec.sha256 and digest.hexdigest() != spec.sha256):
        part.unlink()
        if problem:
            raise ModelError(f"download of {spec.name} from {url} is not the expected file: {problem}; "
                             "it was deleted and nothing was installed")
        _verify_digest(spec, digest.hexdigest(), f"the download from {url}")
    os.replace(part, target)
    return Installed(spec.name, target, _checked_text(spec))


def _resume_point(spec: ModelSpec, url: str, response: HTTPResponse, offset: int) -> tuple[int, int | None]:
    """Where the response's bytes start in the file, and the file's total size (if said)."""
    status = getattr(response, "status", None) or 200
    header = response.headers.get("Content-Length")
    length = int(header) if header and header.isdigit() else None
    if offset and status == 206:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if not match or int(match.group(1)) != offset:
            raise ModelError(f"download of {spec.name}: {url} answered the resume request with a different range "
                             f"({response.headers.get('Content-Range')!r}); delete {spec.filename}.part and retry")
        total = int(match.group(3)) if match.group(3) != "*" else (offset + length if length is not None else None)
    else:
        offset = 0  # a full answer (the server ignored the range, or there was nothing to resume)
        total = length
    if spec.size is not None and total is not None and total != spec.size:
        raise ModelError(f"download of {spec.name}: {url} offers {total:,} bytes but {spec.filename} has "
                         f"{spec.size:,}; not the expected file, nothing was installed")
    return offset, total


def _stream(spec: ModelSpec, url: str, response: HTTPResponse, out: BinaryIO, digest: Any, offset: int,
            total: int | None, progress: bool) -> None:
    import http.client

    from tqdm import tqdm

    received = offset
    with tqdm(total=total or spec.size, initial=offset, unit="B", unit_scale=True, unit_divisor=1024,
              desc=spec.filename, file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
        try:
            for block in iter(lambda: response.read(_CHUNK), b""):
                out.write(block)
                digest.update(block)
                received += len(block)
                bar.update(len(block))
        except (OSError, ValueError, http.client.HTTPException) as exc:  # reset, timeout, cut short
            out.flush()
            expected = f" of {total:,}" if total else ""
            raise ModelError(f"download of {spec.name} was interrupted after {received:,}{expected} bytes "
                             f"({exc.__class__.__name__}: {exc}); run the same command again to resume") from None
    if total is not None and received < total:
        raise ModelError(f"download of {spec.name} stopped at {received:,} of {total:,} bytes; "
                         "run the same command again to resume")
