"""``terf-studio install-desktop``: the menu entry, icons and ``.terf`` type in a temporary XDG
data folder; uninstall removes exactly those files (issue 17)."""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import sys
import xml.etree.ElementTree as ET

import pytest

from terf_studio import desktop
from terf_studio.cli import main


@pytest.fixture
def xdg(tmp_path, monkeypatch):
    """An XDG data folder of this test's own, holding files of other programs already."""
    home = tmp_path / "share"
    (home / "applications").mkdir(parents=True)
    (home / "applications" / "other.desktop").write_text("[Desktop Entry]\nName=Other\n")
    (home / "icons" / "hicolor" / "48x48" / "apps").mkdir(parents=True)
    (home / "icons" / "hicolor" / "48x48" / "apps" / "other.png").write_bytes(b"png")
    (home / "mime" / "packages").mkdir(parents=True)
    (home / "mime" / "packages" / "other.xml").write_text("<mime-info/>")
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    return home


@pytest.fixture
def no_tools(monkeypatch):
    """No update-desktop-database or update-mime-database on PATH."""
    monkeypatch.setattr(desktop.shutil, "which", lambda _name: None)


def files_under(folder):
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


def read_entry(path):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_install_writes_entry_type_and_icons_then_uninstall_removes_exactly_them(xdg, no_tools, capsys):
    before = files_under(xdg)
    assert main(["install-desktop"]) == 0
    out = capsys.readouterr().out
    assert "update-desktop-database is not installed" in out  # a note, not a failure
    written = files_under(xdg) - before
    paths = desktop.DesktopFiles(xdg)
    assert {xdg / p for p in written} == set(paths.all())

    entry = read_entry(paths.desktop_file)
    assert entry["Type"] == "Application" and entry["Name"] == "TeRF Studio"
    assert entry["Icon"] == "terf-studio" and entry["MimeType"] == "application/x-terf-studio;"
    assert entry["Exec"].endswith(" gui %f")
    assert entry["Terminal"] == "false"

    root = ET.parse(paths.mime_file).getroot()
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    kind = root.find("m:mime-type", ns)
    assert kind.get("type") == "application/x-terf-studio"
    assert kind.find("m:glob", ns).get("pattern") == "*.terf"

    assert paths.svg_icon.read_bytes() == desktop.resource_path("icons", "app.svg").read_bytes()
    for size in desktop.ICON_SIZES:
        data = paths.png_icon(size).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(data[16:20], "big") == size and int.from_bytes(data[20:24], "big") == size

    assert main(["install-desktop", "--uninstall"]) == 0
    assert files_under(xdg) == before  # the other programs' files stay
    assert "removed 11 files" in capsys.readouterr().out
    assert main(["install-desktop", "--uninstall"]) == 0  # twice is fine
    assert "nothing to remove" in capsys.readouterr().out


def test_install_again_replaces_the_files(xdg, no_tools):
    assert main(["install-desktop"]) == 0
    desktop.DesktopFiles(xdg).desktop_file.write_text("stale")
    assert main(["install-desktop"]) == 0
    assert "stale" not in desktop.DesktopFiles(xdg).desktop_file.read_text()


def test_data_home_defaults_to_local_share_and_ignores_a_relative_value(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert desktop.data_home() == tmp_path / ".local" / "share"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")
    assert desktop.data_home() == tmp_path / ".local" / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert desktop.data_home() == tmp_path / "xdg"


def test_the_launcher_follows_how_the_program_was_started(monkeypatch, tmp_path):
    script = tmp_path / "bin" / "terf-studio"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    monkeypatch.setattr(sys, "argv", [str(script), "install-desktop"])
    assert desktop.launcher_command() == [str(script)]
    monkeypatch.setattr(sys, "argv", ["/somewhere/terf_studio/__main__.py", "install-desktop"])
    assert desktop.launcher_command() == [os.path.abspath(sys.executable), "-m", "terf_studio"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # a PyInstaller bundle
    monkeypatch.setattr(sys, "executable", "/opt/terf-studio/terf-studio")
    assert desktop.launcher_command() == ["/opt/terf-studio/terf-studio"]


def test_exec_arguments_are_quoted_as_the_spec_says():
    assert desktop.exec_quote("/usr/bin/terf-studio") == "/usr/bin/terf-studio"
    assert desktop.exec_quote("/home/a b/python") == '"/home/a b/python"'
    assert desktop.exec_quote("/x/100%") == "/x/100%%"
    # inside quotes \ becomes \\ (quoting), then each \ is doubled again (string escaping)
    assert desktop.exec_quote('/a"b$c\\d') == '"/a\\\\"b\\\\$c\\\\\\\\d"'
    entry = desktop.desktop_entry(["/home/a b/.venv/bin/python", "-m", "terf_studio"])
    assert 'Exec="/home/a b/.venv/bin/python" -m terf_studio gui %f' in entry


def test_cache_tools_run_when_present(xdg, tmp_path, monkeypatch, capsys):
    """Fake tools on PATH record their arguments; a failing tool is a note, never an error."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name, code in (("update-desktop-database", 0), ("update-mime-database", 3)):
        tool = bin_dir / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "{log}"\nexit {code}\n')
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert main(["install-desktop"]) == 0
    out = capsys.readouterr().out
    calls = log.read_text().splitlines()
    assert calls == [f"update-desktop-database {xdg / 'applications'}", f"update-mime-database {xdg / 'mime'}"]
    assert "ran update-desktop-database" in out and "update-mime-database failed (3)" in out


@pytest.mark.skipif(shutil.which("update-mime-database") is None, reason="shared-mime-info is not installed")
def test_the_real_mime_database_knows_terf_files(xdg):
    assert main(["install-desktop"]) == 0
    assert "application/x-terf-studio:*.terf" in (xdg / "mime" / "globs2").read_text()
    assert main(["install-desktop", "--uninstall"]) == 0
    assert "x-terf-studio" not in (xdg / "mime" / "globs2").read_text()
