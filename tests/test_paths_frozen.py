"""terf_studio.paths finds models/ and resources/ in the source tree and in the desktop bundle."""

import sys
from pathlib import Path

import terf_studio
from terf_studio import paths

SOURCE_ROOT = Path(terf_studio.__file__).resolve().parents[1]


def test_source_tree_root_holds_models_and_resources():
    assert paths.project_root() == SOURCE_ROOT
    assert paths.PROJECT_ROOT == SOURCE_ROOT
    assert (paths.PROJECT_ROOT / "models" / "MANIFEST.json").is_file()
    assert paths.resource_path("icons", "app.svg").is_file()


def test_frozen_bundle_root_is_meipass(monkeypatch, tmp_path):
    bundle = tmp_path / "terf-studio" / "_internal"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert paths.project_root() == bundle


def test_frozen_without_meipass_uses_the_executables_folder(monkeypatch, tmp_path):
    exe = tmp_path / "terf-studio" / "terf-studio"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    assert paths.project_root() == exe.parent.resolve()


def test_not_frozen_ignores_a_stray_meipass(monkeypatch, tmp_path):
    monkeypatch.delattr(sys, "frozen", raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.project_root() == SOURCE_ROOT


def test_prompt_files_come_from_the_resource_folder():
    from terf_studio.language.llm.prompt import resources_dir

    assert resources_dir() == paths.resource_path("parser")
    assert resources_dir().is_dir()
