"""``terf-studio install-desktop [--uninstall]``: the menu entry, icon and ``.terf`` file type for
this user (:mod:`terf_studio.desktop`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from terf_studio.desktop import Renderer

NAME = "install-desktop"
HELP = "add TeRF Studio to this user's desktop menu and open .terf files with it (Linux); --uninstall removes it"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--uninstall", action="store_true", help="remove the files an earlier install-desktop wrote")
    p.add_argument("--data-home", metavar="DIR",
                   help="install under this folder instead of $XDG_DATA_HOME (default ~/.local/share)")
    p.add_argument("--no-refresh", action="store_true",
                   help="do not run update-desktop-database / update-mime-database afterwards")


def _renderer() -> Renderer | None:
    """The Qt SVG renderer for the PNG icons, or None when Qt cannot be loaded."""
    try:
        from terf_studio.gui.icon_render import render_svg_png
    except ImportError:
        return None
    return render_svg_png


def run(args: argparse.Namespace) -> int:
    import sys

    from terf_studio import desktop
    from terf_studio.errors import TerfError

    if not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")) and not args.data_home:
        raise TerfError("install-desktop writes freedesktop.org menu entries (Linux and BSD desktops); "
                        "use --data-home DIR to write them elsewhere")
    root = Path(args.data_home).expanduser().absolute() if args.data_home else desktop.data_home()
    if args.uninstall:
        result = desktop.uninstall(root, refresh=not args.no_refresh)
        print(f"removed {len(result.files)} files under {root}" if result.files
              else f"nothing to remove under {root}")
    else:
        render = _renderer()
        result = desktop.install(root, render=render, refresh=not args.no_refresh)
        files = desktop.DesktopFiles(root)
        print(f"installed {len(result.files)} files under {root}:")
        print(f"  menu entry: {files.desktop_file}")
        print(f"  file type:  {desktop.MIME_TYPE} (*.terf): {files.mime_file}")
        print(f"  icons:      {files.svg_icon.parent.parent.parent}/*/apps/{desktop.APP_ID}.*")
        print(f"  starts:     {' '.join(desktop.launcher_command())} gui FILE")
    for tool in result.ran:
        print(f"ran {tool}")
    for tool in result.missing_tools:
        print(f"note: {tool} is not installed; the desktop picks the change up at the next log-in")
    for note in result.notes:
        print(f"note: {note}")
    return 0
