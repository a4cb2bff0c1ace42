"""Desktop integration on Linux: the menu entry, the icon and the ``.terf`` file type, per user.

``terf-studio install-desktop`` writes, under the user's data folder (``$XDG_DATA_HOME``, by
default ``~/.local/share``):

* ``applications/terf-studio.desktop``: the menu entry; its ``Exec`` line starts the editor the
  way this process was started (a bundle's binary, the ``terf-studio`` script, or this Python
  with ``-m terf_studio``), with the double-clicked file;
* ``mime/packages/terf-studio.xml``: the type ``application/x-terf-studio`` for ``*.terf``;
* ``icons/hicolor/scalable/apps/terf-studio.svg`` and, when a renderer is given (the editor's
  Qt renderer, :mod:`terf_studio.gui.icon_render`), ``icons/hicolor/NxN/apps/terf-studio.png``.

``--uninstall`` removes exactly those files. The desktop's caches are refreshed with
``update-desktop-database`` and ``update-mime-database`` when they are on ``PATH``; without
them the files are still right and are picked up at the next log-in. No Qt here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from terf_studio.errors import TerfError
from terf_studio.paths import resource_path

APP_ID = "terf-studio"
MIME_TYPE = "application/x-terf-studio"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

#: Renders an SVG file as PNG bytes of the given size (a square).
Renderer = Callable[[Path, int], bytes]


def data_home() -> Path:
    """``$XDG_DATA_HOME`` when it is an absolute path (the spec ignores a relative one), else ``~/.local/share``."""
    value = os.environ.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / ".local" / "share"


def launcher_command() -> list[str]:
    """How to start this program again: the bundle's binary when frozen (PyInstaller), the
    ``terf-studio`` script when that started this process, else this Python with ``-m terf_studio``.
    Paths are absolute but not resolved, so a virtualenv's ``python`` stays the virtualenv's."""
    if getattr(sys, "frozen", False):
        return [os.path.abspath(sys.executable)]
    script = sys.argv[0] if sys.argv else ""
    if script and Path(script).name == APP_ID and os.path.isfile(script):
        return [os.path.abspath(script)]
    return [os.path.abspath(sys.executable), "-m", "terf_studio"]


_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def exec_quote(arg: str) -> str:
    """One ``Exec`` argument as the Desktop Entry spec wants it: quoted when it holds a reserved
    character (``"``, `````, ``$`` and ``\\`` escaped inside), ``%`` doubled, then the backslashes
    doubled again for the key file's string escaping."""
    arg = arg.replace("%", "%%")
    if any(c in _RESERVED for c in arg) or not arg:
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return arg.replace("\\", "\\\\")


def desktop_entry(command: Sequence[str]) -> str:
    """The ``.desktop`` file's text for a launcher ``command`` (see :func:`launcher_command`)."""
    exec_line = " ".join(exec_quote(a) for a in [*command, "gui"]) + " %f"
    lines = [
        "[Desktop Entry]",
        "Type=Application",
        "Version=1.5",
        "Name=TeRF Studio",
        "GenericName=Image Fusion Editor",
        "Comment=Fuse visible and infrared images and edit regions by typing, clicking or painting",
        f"Exec={exec_line}",
        f"TryExec={exec_quote(command[0])}",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Graphics;RasterGraphics;",
        f"MimeType={MIME_TYPE};",
        "Keywords=infrared;thermal;visible;fusion;image;editor;",
        "StartupNotify=true",
    ]
    return "\n".join(lines) + "\n"


def mime_xml() -> str:
    """The shared-mime-info package declaring ``application/x-terf-studio`` for ``*.terf``."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="{MIME_TYPE}">
    <comment>TeRF Studio project</comment>
    <sub-class-of type="application/zip"/>
    <icon name="{APP_ID}"/>
    <glob pattern="*.terf"/>
  </mime-type>
</mime-info>
"""


@dataclass
class DesktopFiles:
    """The files of the desktop integration under one data folder."""

    root: Path

    @property
    def desktop_file(self) -> Path:
        return self.root / "applications" / f"{APP_ID}.desktop"

    @property
    def mime_file(self) -> Path:
        return self.root / "mime" / "packages" / f"{APP_ID}.xml"

    @property
    def svg_icon(self) -> Path:
        return self.root / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg"

    def png_icon(self, size: int) -> Path:
        return self.root / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"

    def all(self) -> list[Path]:
        """Every file install may write (uninstall removes these and nothing else)."""
        return [self.desktop_file, self.mime_file, self.svg_icon, *(self.png_icon(s) for s in ICON_SIZES)]


@dataclass
class DesktopResult:
    """What install or uninstall did: the files written or removed, the cache tools run or missing."""

    files: list[Path] = field(default_factory=list)
    ran: list[str] = field(default_factory=list)
    missing_tools: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _write(path: Path, data: bytes) -> None:
    """Write atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        if partial.exists():
            partial.unlink()


def _refresh_caches(root: Path, result: DesktopResult) -> None:
    """Run the desktop's cache tools that exist; a missing or failing tool is a note, never an error."""
    for tool, folder in (("update-desktop-database", root / "applications"), ("update-mime-database", root / "mime")):
        exe = shutil.which(tool)
        if exe is None:
            result.missing_tools.append(tool)
            continue
        if not folder.is_dir():
            continue
        try:
            done = subprocess.run([exe, str(folder)], capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as exc:
            result.notes.append(f"{tool} did not run: {exc}")
            continue
        if done.returncode == 0:
            result.ran.append(tool)
        else:
            result.notes.append(f"{tool} failed ({done.returncode}): {done.stderr.strip()[:200]}")


def install(root: Path | None = None, command: Sequence[str] | None = None, render: Renderer | None = None,
            refresh: bool = True) -> DesktopResult:
    """Write the menu entry, the MIME type and the icons under ``root`` (default :func:`data_home`).

    ``command`` starts the program (default :func:`launcher_command`); ``render`` makes the PNG
    icons from the SVG (without one only the scalable icon is written); ``refresh`` runs the
    cache tools found on ``PATH``.
    """
    files = DesktopFiles(root if root is not None else data_home())
    svg = resource_path("icons", "app.svg")
    if not svg.is_file():
        raise TerfError(f"the application icon {svg} is missing: is this a complete installation?")
    result = DesktopResult()
    try:
        _write(files.desktop_file, desktop_entry(list(command) if command else launcher_command()).encode())
        _write(files.mime_file, mime_xml().encode())
        _write(files.svg_icon, svg.read_bytes())
        result.files += [files.desktop_file, files.mime_file, files.svg_icon]
        if render is not None:
            for size in ICON_SIZES:
                _write(files.png_icon(size), render(svg, size))
                result.files.append(files.png_icon(size))
        else:
            result.notes.append("no PNG icons (no renderer): the scalable icon serves every size")
    except OSError as exc:
        raise TerfError(f"cannot write the desktop files under {files.root}: {exc.strerror or exc}") from None
    if refresh:
        _refresh_caches(files.root, result)
    return result


def uninstall(root: Path | None = None, refresh: bool = True) -> DesktopResult:
    """Remove the files :func:`install` writes under ``root`` (others, folders included, stay)."""
    files = DesktopFiles(root if root is not None else data_home())
    result = DesktopResult()
    for path in files.all():
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise TerfError(f"cannot remove {path}: {exc.strerror or exc}") from None
        result.files.append(path)
    if refresh:
        _refresh_caches(files.root, result)
    return result
