"""``terf-studio bench soak`` for one loop on small synthetic pairs (the real window, offscreen)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("PySide6")

from terf_studio.bench import soak  # noqa: E402
from terf_studio.cli import main  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def isolated_user_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))


def test_one_loop_reports_memory_gaps_and_no_error(qapp, tmp_path, capsys):
    code = main(["bench", "soak", "--minutes", "0", "--loops", "1", "--data", str(tmp_path / "missing"),
                 "--synthetic-size", "96x128", "--device", "cpu", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report["error_list"]
    assert report["source"] == "synthetic" and report["loops"] == 1 and report["errors"] == 0
    loop = report["loop_list"][0]
    assert loop["edits"] == len(soak.COMMAND_SETS[0]) and loop["undo_redo"] >= 1
    assert report["rss_after_first_loop_mb"] == report["rss_end_mb"] == loop["rss_mb"] > 0
    assert report["rss_growth_after_first_loop_mb"] == 0
    assert report["ticks"] > 0 and report["max_gap_ms"] > 0 and report["max_gap_step"]
    steps = {row["job"] for row in report["gaps"]}
    assert "undo/redo" in steps
    # The save is measured under the soak's label, or under its job's name ("Save loop1.terf") when
    # that job starts before the meter's next tick.
    assert "save project" in steps or any(step.startswith("Save ") for step in steps), steps
    assert report["load_average_start"] is None or len(report["load_average_start"]) == 3


def test_an_error_message_in_the_window_makes_the_exit_status_1(qapp, tmp_path, capsys, monkeypatch):
    def failing_save(self, path):  # noqa: ANN001
        self.window.error("could not save the project: disk full")
        return False

    monkeypatch.setattr("terf_studio.gui.window.files.Files.save_project", failing_save)
    code = main(["bench", "soak", "--minutes", "0", "--data", str(tmp_path / "missing"),
                 "--synthetic-size", "96x128", "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 1
    assert "errors: 2" in out and "disk full" in out  # the window's message and the failed step
