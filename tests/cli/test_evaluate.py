"""Tests of the evaluation command's logic on tiny image folders."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from terf_studio import evaluate as E
from terf_studio import metrics as M
from terf_studio.cli import eval as eval_command
from terf_studio.errors import TerfError

KEYS = ("EN", "SD", "SF", "AG", "MI", "SSIM", "VIF", "Qabf", "SCD")
SIZE = 32


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    eval_command.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def run_json(capsys: pytest.CaptureFixture[str], *argv: object) -> dict:
    assert eval_command.run(_parse(*map(str, argv), "--json")) == 0
    return json.loads(capsys.readouterr().out)


def _grey_rgb(rng: np.random.Generator) -> np.ndarray:
    """An RGB uint8 image with R = G = B and even levels (exact grey, exact means)."""
    level = rng.integers(0, 128, (SIZE, SIZE)).astype(np.uint8) * 2
    return np.repeat(level[..., None], 3, axis=2)


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """vi/ (RGB PNG), ir/ (grey PNG) with pairs a, b, c; fused/ holds their grey mean as BMP."""
    rng = np.random.default_rng(7)
    for sub in ("vi", "ir", "fused"):
        (tmp_path / sub).mkdir()
    for name in ("a", "b", "c"):
        vi = _grey_rgb(rng)
        ir = (rng.integers(0, 128, (SIZE, SIZE)) * 2).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "vi" / f"{name}.png"), vi[..., ::-1])
        cv2.imwrite(str(tmp_path / "ir" / f"{name}.png"), ir)
        mean = ((vi[..., 0].astype(np.int32) + ir) // 2).astype(np.uint8)
        cv2.imwrite(str(tmp_path / "fused" / f"{name}.bmp"), mean)
    return tmp_path


def test_method_mean_json(folders: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_json(capsys, "--vi-dir", folders / "vi", "--ir-dir", folders / "ir",
                   "--method", "mean")
    assert out["method"] == "mean"
    assert out["pairs"] == 3
    assert out["seconds_per_pair"] is None
    for key in KEYS:
        assert key in out["metrics"] and key in out["std"]
    assert 0 < out["metrics"]["SSIM"] < 2


def test_fused_dir_matches_by_stem_and_equals_mean(folders: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    common = ("--vi-dir", folders / "vi", "--ir-dir", folders / "ir")
    from_files = run_json(capsys, *common, "--fused-dir", folders / "fused")
    computed = run_json(capsys, *common, "--method", "mean")
    assert from_files["pairs"] == 3
    for key in KEYS:
        assert from_files["metrics"][key] == pytest.approx(computed["metrics"][key], rel=1e-6)


def test_max_keeps_all_of_a_source_that_mean_halves(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # vi black, ir textured: max == ir, so MI(max) = MI(ir, ir) + 0 = EN(ir);
    # mean == ir / 2 merges neighbouring grey levels and must lose information
    rng = np.random.default_rng(3)
    (tmp_path / "vi").mkdir()
    (tmp_path / "ir").mkdir()
    ir = rng.integers(0, 256, (SIZE, SIZE)).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "vi" / "x.png"), np.zeros((SIZE, SIZE, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "ir" / "x.png"), ir)
    common = ("--vi-dir", tmp_path / "vi", "--ir-dir", tmp_path / "ir")
    got_max = run_json(capsys, *common, "--method", "max")["metrics"]
    got_mean = run_json(capsys, *common, "--method", "mean")["metrics"]
    assert got_max["MI"] == pytest.approx(M.en(ir), abs=1e-6)
    assert got_max["MI"] > got_mean["MI"] + 0.5
    assert got_max["SSIM"] == pytest.approx(1.0 + M.ssim_pair(ir, np.zeros_like(ir)), abs=1e-6)


def test_names_json_with_and_without_extension(folders: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    split = folders / "split.json"
    split.write_text(json.dumps({"test": ["b.png", "c"], "train": ["a.png"]}))
    out = run_json(capsys, "--vi-dir", folders / "vi", "--ir-dir", folders / "ir",
                   "--names", f"{split}:test", "--method", "max")
    assert out["pairs"] == 2
    out = run_json(capsys, "--vi-dir", folders / "vi", "--ir-dir", folders / "ir",
                   "--names", f"{split}:train", "--method", "max", "--limit", "1")
    assert out["pairs"] == 1
    assert E.load_names(f"{split}:test") == ["b.png", "c"]


def test_names_errors(folders: Path) -> None:
    split = folders / "split.json"
    split.write_text(json.dumps({"test": ["a.png", "zzz.png"]}))
    with pytest.raises(TerfError, match="no key 'val'"):
        E.load_names(f"{split}:val")
    with pytest.raises(TerfError, match="zzz"):
        eval_command.run(_parse("--vi-dir", folders / "vi", "--ir-dir", folders / "ir",
                          "--names", f"{split}:test", "--method", "mean"))
    with pytest.raises(TerfError, match="not found"):
        E.load_names(f"{folders / 'nope.json'}:test")


def test_limit_csv_and_table(folders: Path, capsys: pytest.CaptureFixture[str]) -> None:
    table_csv = folders / "out.csv"
    args = _parse("--vi-dir", folders / "vi", "--ir-dir", folders / "ir", "--method", "mean",
                  "--limit", "2", "--csv", table_csv)
    assert eval_command.run(args) == 0
    text = capsys.readouterr().out
    assert "pairs: 2" in text and "Qabf" in text
    with table_csv.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["name"] for r in rows] == ["a", "b", "mean"]
    mean_en = (float(rows[0]["EN"]) + float(rows[1]["EN"])) / 2
    assert float(rows[2]["EN"]) == pytest.approx(mean_en, abs=1e-5)


def test_model_path_is_timed(folders: Path, capsys: pytest.CaptureFixture[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def fake_fuse(vi: np.ndarray, ir: np.ndarray) -> np.ndarray:
        calls.append(vi.shape)
        return np.repeat(ir[..., None], 3, axis=2)  # "fused" = infrared

    monkeypatch.setattr(eval_command, "_model_fusion", lambda args: (fake_fuse, False))
    out = run_json(capsys, "--vi-dir", folders / "vi", "--ir-dir", folders / "ir",
                   "--arch", "lite")
    assert out["method"] == "model:lite"
    assert len(calls) == 3
    assert isinstance(out["seconds_per_pair"], float) and out["seconds_per_pair"] >= 0
    assert out["metrics"]["SSIM"] > 1.0  # SSIM(f, ir) == 1 for each pair


def test_missing_folder_unmatched_and_unreadable(folders: Path, tmp_path: Path) -> None:
    with pytest.raises(TerfError, match="folder not found"):
        eval_command.run(_parse("--vi-dir", folders / "missing", "--ir-dir", folders / "ir",
                          "--method", "mean"))
    other = tmp_path / "other_ir"
    other.mkdir()
    cv2.imwrite(str(other / "q.png"), np.zeros((SIZE, SIZE), np.uint8))
    with pytest.raises(TerfError, match="no matching image pairs"):
        eval_command.run(_parse("--vi-dir", folders / "vi", "--ir-dir", other, "--method", "mean"))
    (folders / "fused" / "b.bmp").unlink()
    with pytest.raises(TerfError, match="no fused image for b"):
        eval_command.run(_parse("--vi-dir", folders / "vi", "--ir-dir", folders / "ir",
                          "--fused-dir", folders / "fused"))
    (folders / "ir" / "a.png").write_bytes(b"not an image")
    with pytest.raises(TerfError):
        eval_command.run(_parse("--vi-dir", folders / "vi", "--ir-dir", folders / "ir",
                          "--method", "mean"))


def test_exactly_one_fused_source_is_required(folders: Path) -> None:
    with pytest.raises(SystemExit):
        _parse("--vi-dir", folders / "vi", "--ir-dir", folders / "ir")
    with pytest.raises(SystemExit):
        _parse("--vi-dir", folders / "vi", "--ir-dir", folders / "ir",
               "--method", "mean", "--arch", "lite")


def test_compare_prints_several_methods_side_by_side(folders: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--vi-dir", folders / "vi", "--ir-dir", folders / "ir", "--compare", f"folder-mean={folders / 'fused'}",
            "method:mean", "method:max", "model:lite", "--device", "cpu"]
    rows = run_json(capsys, *args)
    assert [r["method"] for r in rows] == ["folder-mean", "mean", "max", "model:lite"]
    assert all(r["pairs"] == 3 for r in rows)
    # The folder holds the mean fusion written to disk: the same numbers as computing it.
    for key in KEYS:
        assert rows[0]["metrics"][key] == pytest.approx(rows[1]["metrics"][key], rel=1e-6, abs=1e-6)
    assert rows[2]["metrics"]["MI"] > rows[1]["metrics"]["MI"]  # the max copies a source
    assert rows[3]["seconds_per_pair"] is not None and rows[0]["seconds_per_pair"] is None
    assert eval_command.run(_parse(*map(str, args))) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0] == "pairs: 3" and table[1].split()[:3] == ["method", "EN", "SD"]
    assert [line.split()[0] for line in table[2:6]] == ["folder-mean", "mean", "max", "model:lite"]
    with pytest.raises(TerfError, match="not a folder"):
        eval_command.run(_parse("--vi-dir", folders / "vi", "--ir-dir", folders / "ir", "--compare", "model:huge"))


def test_compare_takes_a_weights_file_and_the_cli_knows_every_network(
    folders: Path, random_lite_weights: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from terf_studio.cli.common import ARCHES
    from terf_studio.fusion import CONFIGS

    assert sorted(ARCHES) == sorted(CONFIGS)
    rows = run_json(capsys, "--vi-dir", folders / "vi", "--ir-dir", folders / "ir", "--compare",
                    f"model:{random_lite_weights}", "method:mean", "--device", "cpu")
    assert [r["method"] for r in rows] == ["model:fusion-lite", "mean"]
    assert rows[0]["seconds_per_pair"] is not None
    named = run_json(capsys, "--vi-dir", folders / "vi", "--ir-dir", folders / "ir", "--compare",
                     f"mine=model:{random_lite_weights}", "avg=method:mean", "--device", "cpu")
    assert [r["method"] for r in named] == ["mine", "avg"]
    assert named[0]["metrics"] == rows[0]["metrics"] and named[1]["metrics"] == rows[1]["metrics"]
    with pytest.raises(TerfError, match="no such weights file"):
        eval_command.run(_parse("--vi-dir", folders / "vi", "--ir-dir", folders / "ir", "--compare", "model:nope.pt"))
