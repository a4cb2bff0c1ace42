"""Weights files are verified before they are used: the manifest of the shipped ``models/``
folder (size + SHA-256), the CRCs of every PyTorch zip archive, and ``models add`` loading the
file as the model it is added as. Damage is a one-line ModelError naming the file."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch

from terf_studio.cli import main
from terf_studio.cli.doctor import doctor_report, format_doctor
from terf_studio.errors import ModelError
from terf_studio.fusion.checkpoint import load_weights_file
from terf_studio.paths import PROJECT_ROOT
from terf_studio.weights import integrity, manifest, registry

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHIPPED_LITE = PROJECT_ROOT / "models" / "fusion-lite.pt"


def _flip_middle(path: Path, count: int = 3000) -> None:
    """Flip ``count`` bytes in the middle of the file, keeping its size."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    for i in range(middle, middle + count):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture(autouse=True)
def _fresh_caches():
    integrity.clear_cache()
    yield
    integrity.clear_cache()


# ---------------------------------------------------------------------------- the manifest


def test_the_manifest_matches_the_shipped_models():
    problems = manifest.manifest_problems()
    assert not problems, ("models/ differs from models/MANIFEST.json; if a shipped model was retrained on "
                          f"purpose, run `{manifest.REGENERATE}`:\n" + "\n".join(problems))
    listed = manifest.read_manifest()
    assert listed is not None
    for spec in registry.REGISTRY.values():
        if spec.shipped:
            assert spec.filename in listed, f"{spec.filename} is shipped but not in MANIFEST.json"


def test_manifest_check_and_write_commands(tmp_path, capsys):
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copyfile(SHIPPED_LITE, folder / "fusion-lite.pt")
    (folder / "README.md").write_text("documentation is not listed")
    assert manifest.main(["--check", "--folder", str(folder)]) == 1
    assert "MANIFEST.json is missing" in capsys.readouterr().err
    assert manifest.main(["--write", "--folder", str(folder)]) == 0
    assert manifest.main(["--folder", str(folder)]) == 0
    assert set(manifest.read_manifest(folder) or {}) == {"fusion-lite.pt"}
    (folder / "new.pt").write_bytes(b"PK\x03\x04")
    _flip_middle(folder / "fusion-lite.pt", 10)
    assert manifest.main(["--folder", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "new.pt is not listed" in err and "fusion-lite.pt has sha256" in err
    assert manifest.REGENERATE in err


def _shipped_tree(tmp_path, monkeypatch):
    """A source tree whose models/ holds a copy of fusion-lite and its manifest, in use."""
    root = tmp_path / "tree"
    (root / "models").mkdir(parents=True)
    shutil.copyfile(SHIPPED_LITE, root / "models" / "fusion-lite.pt")
    manifest.write_manifest(root / "models")
    monkeypatch.setattr(manifest, "PROJECT_ROOT", root)
    monkeypatch.setattr(registry, "PROJECT_ROOT", root)
    return root


@pytest.fixture
def damaged_shipped_tree(tmp_path, monkeypatch):
    """A copy of the source tree's models/ (fusion-lite only) whose model is then damaged."""
    root = _shipped_tree(tmp_path, monkeypatch)
    path = root / "models" / "fusion-lite.pt"
    load_weights_file(path)  # whole: loads (and its digest is now cached)
    _flip_middle(path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    return path


def test_a_damaged_shipped_model_is_refused_on_load_lookup_and_by_doctor(damaged_shipped_tree):
    path = damaged_shipped_tree
    with pytest.raises(ModelError) as err:
        load_weights_file(path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text and "MANIFEST.json" in text and manifest.REGENERATE in text
    assert registry.find_model("fusion-lite") is None  # passed over ...
    with pytest.raises(ModelError, match="passed over: .*fusion-lite.pt has sha256"):
        registry.require_model("fusion-lite")  # ... and said so
    report = doctor_report()
    assert any("fusion-lite.pt has sha256" in p for p in report["shipped_files"]["problems"])
    assert "[damaged]" in format_doctor(report)


def test_a_shipped_model_of_another_size_is_passed_over(tmp_path, monkeypatch):
    root = _shipped_tree(tmp_path, monkeypatch)
    with (root / "models" / "fusion-lite.pt").open("ab") as f:
        f.write(b"\0")
    problem = registry.problem_with(registry.get_spec("fusion-lite"), root / "models" / "fusion-lite.pt")
    assert problem and f"not the {SHIPPED_LITE.stat().st_size:,} of MANIFEST.json" in problem


def test_a_damaged_manifest_is_a_one_line_error(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "MANIFEST.json").write_text("{not json")
    with pytest.raises(ModelError, match=r"cannot read .*MANIFEST.json.*--write"):
        manifest.manifest_problems(folder)


# ---------------------------------------------------------------------------- any weights file: archive CRCs


def test_a_corrupted_copy_of_a_model_is_refused_not_fused_to_black(pair_dir, tmp_path, capsys):
    bad = tmp_path / "copy.pt"
    shutil.copyfile(SHIPPED_LITE, bad)
    _flip_middle(bad)
    out = tmp_path / "fused.png"
    code = main(["fuse", str(pair_dir / "vi" / "p0.png"), str(pair_dir / "ir" / "p0.png"), "-o", str(out),
                 "--weights", str(bad), "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists()
    assert len(err.splitlines()) == 1 and str(bad) in err and "fails its CRC check" in err


def test_archive_problem_names_truncation_pickles_and_empty_files(tmp_path):
    data = SHIPPED_LITE.read_bytes()
    cases = {
        "truncated.pt": (data[: len(data) // 2], "truncated or damaged"),
        "pickle.pt": (pickle.dumps({"state_dict": {}}, protocol=4), "a pickle, not a zip archive"),
        "empty.pt": (b"", "empty"),
        "page.pt": (b"<html>sign in</html>", "not a zip archive"),
    }
    for name, (content, phrase) in cases.items():
        (tmp_path / name).write_bytes(content)
        problem = integrity.archive_problem(tmp_path / name)
        assert problem is not None and phrase in problem, (name, problem)
    assert integrity.archive_problem(SHIPPED_LITE) is None


def test_a_file_changed_in_place_is_checked_again(tmp_path):
    path = tmp_path / "w.pt"
    shutil.copyfile(SHIPPED_LITE, path)
    assert integrity.archive_problem(path) is None
    _flip_middle(path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert "CRC" in (integrity.archive_problem(path) or "")


# ---------------------------------------------------------------------------- models add


@pytest.mark.parametrize(
    ("case", "phrase"),
    [
        ("truncated", "truncated or damaged"),
        ("bad-crc", "fails its CRC check"),
        ("pickle", "a pickle, not a zip archive"),
        ("objects", "holds Python objects"),
        ("engine", "not a TeRF Studio fusion weights file"),
    ],
)
def test_add_refuses_files_that_are_not_whole_loadable_weights(case, phrase, tmp_path, capsys):
    src = tmp_path / "candidate.pt"
    if case == "truncated":
        src.write_bytes(SHIPPED_LITE.read_bytes()[:-5000])
    elif case == "bad-crc":
        shutil.copyfile(SHIPPED_LITE, src)
        _flip_middle(src)
    elif case == "pickle":
        src.write_bytes(pickle.dumps({"format": "terf-fusion/1", "state_dict": {}}, protocol=2))
    elif case == "objects":
        torch.save({"format": "terf-fusion/1", "extra": _Custom()}, src)
    else:
        shutil.copyfile(PROJECT_ROOT / "models" / "fast-denoise.pt", src)
    assert main(["models", "add", "fusion-lite", str(src)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and phrase in err and "nothing was installed" in err
    assert "weights_only" not in err
    assert not (registry.user_models_dir() / "fusion-lite.pt").exists()


class _Custom:
    """An object ``weights_only`` loading refuses."""


def test_add_checks_the_network_and_the_engine(tmp_path, capsys):
    lite = tmp_path / "retrained.pt"
    shutil.copyfile(SHIPPED_LITE, lite)
    with pytest.raises(ModelError, match="for the 'lite' network, not 'full'"):
        registry.install_model("fusion-full", lite)
    engine = tmp_path / "engine.pt"
    shutil.copyfile(PROJECT_ROOT / "models" / "fast-denoise.pt", engine)
    with pytest.raises(ModelError, match="holds the 'denoise' engine, not 'illumination'"):
        registry.install_model("fast-illumination", engine)
    assert not any(registry.user_models_dir().glob("*")) if registry.user_models_dir().exists() else True
    assert main(["models", "add", "fusion-lite", str(lite)]) == 0
    assert main(["models", "add", "fast-denoise", str(engine)]) == 0
    out = capsys.readouterr().out
    assert "archive CRCs checked, loads as the 'lite' fusion network" in out
    assert "loads as the 'denoise' engine" in out
    assert (registry.user_models_dir() / "fusion-lite.pt").read_bytes() == SHIPPED_LITE.read_bytes()
