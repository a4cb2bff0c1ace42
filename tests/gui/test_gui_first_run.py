"""First run (issue 17): the welcome panel, the bundled sample pair, Help > Models and
Edit > Preferences, offscreen. Dialogs are opened window-modal (never ``exec``) and file
pickers are patched."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtGui import QPalette  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from terf_studio.cli import main  # noqa: E402
from terf_studio.gui.preferences import arch_actions, device_setting, llm_choice, theme_setting  # noqa: E402
from terf_studio.gui.welcome import sample_pair  # noqa: E402
from terf_studio.settings import load_settings  # noqa: E402
from terf_studio.weights import registry  # noqa: E402

JOB_TIMEOUT_MS = 240_000


def test_the_welcome_panel_shows_on_the_empty_window_and_try_a_sample_opens_the_sample(qtbot, window):
    assert window.session is None
    assert window.welcome.isVisible() and window.welcome.sample_button.isEnabled()
    assert "drop two images" in window.welcome.drop_hint.text()
    assert window.welcome.geometry() == window.canvas.rect()  # it covers the empty canvas
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        window.welcome.sample_button.click()
    assert window.session is not None, window.last_error
    vi, ir = sample_pair()
    assert Path(window.session.vi_path) == vi and Path(window.session.ir_path) == ir
    assert window.canvas.image_size == (640, 480)
    assert not window.welcome.isVisible()
    # Automatic on the CPU: the distilled student, with its own inclination engine.
    assert window.files.fusion_arch() == "student" and window.session.fuser.arch == "student"


def test_the_welcome_buttons_open_the_pickers_and_the_models_panel(qtbot, window, monkeypatch):
    asked = []

    class NoPair:
        def __init__(self, *_args):
            asked.append("pair")

        def exec(self):
            return 0

    monkeypatch.setattr("terf_studio.gui.window.files.OpenPairDialog", NoPair)
    monkeypatch.setattr("terf_studio.gui.window.files.QFileDialog.getOpenFileName",
                        lambda *_a, **_k: (asked.append("project"), "")[1:] + ("",))
    window.welcome.open_pair_button.click()
    window.welcome.open_project_button.click()
    assert asked == ["pair", "project"] and window.session is None
    window.welcome.models_requested.emit()  # the "Help > Models" link
    assert window.models_dialog.isVisible()
    window.models_dialog.close()


def test_the_sample_menu_action_and_gui_sample_refusing_files(qtbot, window, capsys):
    assert window.actions_by_id["open_sample"].isEnabled()
    assert main(["gui", "--sample", "a.png", "b.png"]) == 2
    assert "not both" in capsys.readouterr().err


def test_the_models_panel_lists_the_registry_and_adds_a_model_with_the_same_checks(qtbot, window, tmp_path,
                                                                                  monkeypatch):
    window.actions_by_id["models"].trigger()  # Help > Models
    dialog = window.models_dialog
    assert dialog.isVisible()
    assert dialog.table.rowCount() == len(registry.REGISTRY)
    assert dialog.state_of("fusion-lite") == "shipped"
    assert dialog.state_of("sam-vit-b") == "optional, missing"
    assert str(registry.user_models_dir()) in dialog.folders.text()

    # A file that is not the model: refused by install_model, as `models add` refuses it.
    bogus = tmp_path / "sam_vit_b.pth"
    bogus.write_bytes(b"not a checkpoint")
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        assert dialog.add_model("sam-vit-b", str(bogus))
    assert dialog.status.text().startswith("not added: ") and "cannot add sam-vit-b" in dialog.status.text()
    assert dialog.state_of("sam-vit-b") == "optional, missing"
    assert not (registry.user_models_dir() / "sam_vit_b_01ec64.pth").exists()

    # Add model file... with the picker patched: a folder model with its required files.
    bert = tmp_path / "my-bert"
    bert.mkdir()
    for name in ("config.json", "vocab.txt"):
        (bert / name).write_text("{}")
    monkeypatch.setattr("terf_studio.gui.models_dialog.QFileDialog.getExistingDirectory", lambda *_a: str(bert))
    dialog.model_choice.setCurrentText("bert-base-uncased")
    with qtbot.waitSignal(window.idle, timeout=JOB_TIMEOUT_MS):
        dialog.add_button.click()
    assert dialog.status.text().startswith("installed bert-base-uncased"), dialog.status.text()
    assert dialog.state_of("bert-base-uncased") == "installed"
    assert (registry.user_models_dir() / "bert-base-uncased" / "vocab.txt").is_file()
    dialog.close()


@pytest.fixture
def app_look():
    """Put the application's style, palette and style sheet back after a theme change."""
    app = QApplication.instance()
    style, palette, sheet = app.style().name(), QPalette(app.palette()), app.styleSheet()
    yield app
    app.setStyle(style)
    app.setPalette(palette)
    app.setStyleSheet(sheet)


def test_preferences_apply_at_once_stay_in_step_with_the_menus_and_are_stored(qtbot, window, settings, tmp_path,
                                                                           app_look):
    window.actions_by_id["preferences"].trigger()  # Edit > Preferences
    dialog = window.preferences_dialog
    assert dialog.isVisible()

    dialog.engine.setCurrentIndex(dialog.engine.findData("fast"))
    assert window.engine == "fast" and window.engine_actions["fast"].isChecked()
    assert settings.value("tuning/engine") == "fast"

    dialog.arch.setCurrentIndex(dialog.arch.findData("full"))
    assert settings.value("fusion/arch") == "full" and arch_actions(window)["full"].isChecked()
    assert window.files.fusion_arch() == "full"

    dialog.device.setCurrentIndex(dialog.device.findData("auto"))
    assert window.device == "auto" and device_setting(settings) == "auto"
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    assert window.device == "cpu" and device_setting(settings) == "cpu"

    assert not window.act_llm.isChecked()  # the fixture's window starts with llm="none"
    dialog.llm.setChecked(True)
    assert window.act_llm.isChecked() and window.llm == "auto" and settings.value("parser/llm") == "auto"
    gguf = tmp_path / "my-model.gguf"
    gguf.write_bytes(b"GGUF")
    dialog.llm_file.setText(str(gguf))
    dialog.llm_file.editingFinished.emit()
    assert window.llm == str(gguf) and llm_choice(settings) == str(gguf)
    window.act_llm.trigger()  # off from the menu: the dialog's file is kept for next time
    assert window.llm == "none" and llm_choice(settings) == "none"
    window.act_llm.trigger()
    assert window.llm == str(gguf)
    assert not dialog.set_llm_file(str(tmp_path / "missing.gguf"))  # refused, nothing changes
    assert window.llm == str(gguf) and "no LLM model file" in dialog.status.text()

    folder = tmp_path / "weights"
    folder.mkdir()
    dialog.model_dir.setText(str(folder))
    dialog.model_dir.editingFinished.emit()
    assert load_settings()["model_dir"] == str(folder)
    assert folder in registry.search_dirs()  # the core looks there from now on
    assert not dialog.set_model_dir(str(tmp_path / "nowhere"))
    assert load_settings()["model_dir"] == str(folder)
    assert dialog.set_model_dir("") and "model_dir" not in load_settings()

    dialog.theme.setCurrentIndex(dialog.theme.findData("light"))
    assert theme_setting(settings) == "light"
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() > 128
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    assert QApplication.palette().color(QPalette.ColorRole.Window).lightness() < 128
    dialog.close()

    # A change made in the menus shows in the next dialog.
    window.engine_actions["exact"].trigger()
    arch_actions(window)["lite"].trigger()
    again = window.show_preferences()
    assert again.engine.currentData() == "exact" and again.arch.currentData() == "lite"
    assert again.llm.isChecked() and again.llm_file.text() == str(gguf) and again.theme.currentData() == "dark"
    again.close()
