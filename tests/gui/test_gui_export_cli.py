"""``terf-studio export P.terf`` writes byte for byte what the editor's File > Export writes."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from terf_studio.cli import main  # noqa: E402

JOB_TIMEOUT_MS = 240_000


def wait_idle(qtbot, window, action):
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        assert action() is not False
    assert not window.runner.busy


def test_command_line_export_matches_the_editors(qtbot, make_window, pair, tmp_path, capsys):
    window = make_window()
    wait_idle(qtbot, window, lambda: window.open_pair(*pair))
    wait_idle(qtbot, window, lambda: window.submit_command("blur the person"))
    wait_idle(qtbot, window, lambda: window.submit_command("brighten the person"))
    assert len(window.session.steps) == 2 and window.session.masks, window.last_error
    project = tmp_path / "work.terf"
    assert window.save_project(str(project))

    editor = window.export(str(tmp_path / "editor" / "out.tif"), bit_depth=16, masks=True)
    assert len(editor) == 1 + len(window.session.masks)
    assert main(["export", str(project), "-o", str(tmp_path / "cli" / "out.tif"), "--bit-depth", "16",
                 "--masks", str(tmp_path / "cli")]) == 0, capsys.readouterr().err
    for made in editor:
        assert (tmp_path / "cli" / made.name).read_bytes() == made.read_bytes(), made.name

    window.act_undo.trigger()  # the editor after one undo == --step 1, 8-bit PNG
    editor_png = window.export(str(tmp_path / "editor" / "step1.png"))
    assert main(["export", str(project), "-o", str(tmp_path / "cli" / "step1.png"), "--step", "1"]) == 0
    assert (tmp_path / "cli" / "step1.png").read_bytes() == editor_png[0].read_bytes()

    reopened = make_window()  # and the project reopened in the editor exports the same
    wait_idle(qtbot, reopened, lambda: reopened.open_project(str(project)))
    again = reopened.export(str(tmp_path / "reopened" / "out.tif"), bit_depth=16, masks=True)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in editor]
