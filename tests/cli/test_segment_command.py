"""`terf-studio segment` and `terf-studio bench segment` through ``terf_studio.cli.main``."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from terf_studio.cli import main
from terf_studio.imaging import read_image, write_image
from terf_studio.paths import SHARED_DATA
from terf_studio.regions import Mask

MSRS = SHARED_DATA / "msrs-samples"
ROADSCENE = SHARED_DATA / "roadscene"


@pytest.fixture
def square_pair(tmp_path):
    """A warm square (rows 20-39, columns 30-59) on a cool textured background, in both images."""
    rng = np.random.default_rng(1)
    h, w = 80, 100
    vi = 0.25 + 0.03 * rng.random((h, w, 3), dtype=np.float32)
    ir = 0.2 + 0.03 * rng.random((h, w), dtype=np.float32)
    vi[20:40, 30:60] = (0.85, 0.6, 0.3)
    ir[20:40, 30:60] = 0.9
    write_image(tmp_path / "vi.png", vi)
    write_image(tmp_path / "ir.png", ir)
    truth = np.zeros((h, w), bool)
    truth[20:40, 30:60] = True
    return tmp_path / "vi.png", tmp_path / "ir.png", truth


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_point_gives_the_object_mask(square_pair, tmp_path, capsys):
    vi, ir, truth = square_pair
    out, over = tmp_path / "m.png", tmp_path / "over.png"
    assert main(["segment", str(vi), str(ir), "--point", "40,30", "--finder", "builtin", "-o", str(out),
                 "--overlay", str(over), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["finder"] == "builtin:point" and 0 < report["confidence"] <= 1
    mask = Mask.load_png(out)
    assert mask.shape == truth.shape and mask.iou(truth) > 0.8  # the square, not the background
    assert report["area"] == mask.area and report["bbox"] == list(mask.bbox())
    assert read_image(over).shape == truth.shape + (3,)


def test_box_gives_the_object_mask(square_pair, tmp_path, capsys):
    vi, ir, truth = square_pair
    out = tmp_path / "m.png"
    assert main(["segment", str(vi), str(ir), "--box", "24,14,66,46", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mask by builtin:box (confidence" in printed and f"wrote {out}" in printed
    assert Mask.load_png(out).iou(truth) > 0.8


def test_bad_prompts_are_one_line_errors(square_pair, tmp_path, capsys):
    vi, ir, _ = square_pair
    out = tmp_path / "m.png"
    assert main(["segment", str(vi), str(ir), "--point", "400,30", "-o", str(out)]) == 2
    assert "outside the 100x80 image" in _one_line_error(capsys)
    assert main(["segment", str(vi), str(ir), "--box", "1,1,50,40", "--negative", "5,5", "-o", str(out)]) == 2
    assert "--negative goes with --point" in _one_line_error(capsys)
    with pytest.raises(SystemExit):  # argparse: not two numbers
        main(["segment", str(vi), str(ir), "--point", "4", "-o", str(out)])
    assert not out.exists()


def test_unknown_target_says_to_click_draw_or_paint(square_pair, tmp_path, capsys):
    vi, ir, _ = square_pair
    assert main(["segment", str(vi), str(ir), "--text", "unicorn", "-o", str(tmp_path / "m.png")]) == 2
    assert _one_line_error(capsys) == "error: no region found for 'unicorn': click, draw a box or paint it"


def test_grounded_finder_says_what_is_missing(square_pair, tmp_path, capsys, monkeypatch):
    from terf_studio.cli import segment as segment_command

    vi, ir, _ = square_pair
    out = tmp_path / "m.png"
    grounded = segment_command._grounded_module()
    if grounded is not None and grounded.grounded_status()["ready"]:
        pytest.skip("the grounded finder has all it needs here")
    assert main(["segment", str(vi), str(ir), "--text", "person", "--finder", "grounded", "-o", str(out)]) == 2
    err = _one_line_error(capsys)
    assert err.startswith("error: --finder grounded")
    if grounded is not None:
        assert "groundingdino-swint-ogc" in err or "groundingdino-py" in err
    # Without the grounded package at all, the message says so.
    monkeypatch.setattr(segment_command, "_grounded_module", lambda: None)
    assert main(["segment", str(vi), str(ir), "--box", "24,14,66,46", "--finder", "grounded", "-o", str(out)]) == 2
    assert "has no grounded finder" in _one_line_error(capsys)
    # auto falls back to the builtin code.
    assert main(["segment", str(vi), str(ir), "--box", "24,14,66,46", "-o", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["finder"] == "builtin:box"


def test_auto_does_not_load_the_grounded_package_without_its_model_files(square_pair, tmp_path, capsys,
                                                                         monkeypatch):
    from terf_studio.cli import segment as segment_command

    def fail():
        raise AssertionError("the grounded package was imported although no model file is present")

    monkeypatch.setattr(segment_command, "_grounded_module", fail)
    vi, ir, _ = square_pair
    for prompt in (["--box", "24,14,66,46"], ["--point", "40,30"], ["--text", "sky"]):
        main(["segment", str(vi), str(ir), *prompt, "-o", str(tmp_path / "m.png")])
        assert "AssertionError" not in capsys.readouterr().err


@pytest.mark.skipif(not MSRS.is_dir(), reason="shared MSRS samples are not available")
def test_text_person_on_a_night_msrs_pair(tmp_path, capsys):
    out = tmp_path / "person.png"
    assert main(["segment", str(MSRS / "vi" / "00881N.png"), str(MSRS / "ir" / "00881N.png"), "--text", "person",
                 "--finder", "builtin", "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["finder"] == "builtin:thermal" and report["confidence"] > 0.5
    mask = Mask.load_png(out)
    assert mask.shape == (480, 640) and 0 < mask.area < 0.1 * mask.data.size
    assert "warm object" in report["detail"]


# ---------------------------------------------------------------------------- bench segment


@pytest.mark.skipif(not (MSRS.is_dir() and ROADSCENE.is_dir()), reason="shared data is not available")
def test_bench_segment_measures_each_builtin_row(tmp_path, capsys):
    msrs = tmp_path / "msrs"
    for sub in ("vi", "ir"):
        (msrs / sub).mkdir(parents=True)
        shutil.copy(MSRS / sub / "00881N.png", msrs / sub / "00881N.png")
    assert main(["bench", "segment", "--pairs", "1", "--repeats", "1", "--msrs", str(msrs), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["prompt"]: row for row in report["rows"]}
    assert set(rows) == {"point (first click on a pair)", "point (next click, same pair)", "box (GrabCut)",
                         "text 'person'", "text 'sky'", "text 'road'"}
    for row in rows.values():
        assert row["finder"] == "builtin" and row["runs"] == 1 and row["seconds_median"] > 0
    assert rows["box (GrabCut)"]["target_seconds"] == 0.5 and "640x480" in rows["box (GrabCut)"]["data"]
    assert rows["box (GrabCut)"]["mean_area_fraction"] > 0
    assert rows["text 'person'"]["found"] == "1/1"  # two pedestrians in this night pair
    assert report["machine"]["cpu_count"] >= 1


def test_bench_segment_takes_more_row_functions(square_pair):
    from terf_studio.bench.segment import (
        BenchData,
        Pair,
        bench_segment,
        format_segment_table,
        timing_row,
    )

    vi, ir, _ = square_pair
    data = BenchData(roadscene=[Pair("square", read_image(vi), read_image(ir), (40.0, 30.0), (24, 14, 66, 46))],
                     repeats=2, roadscene_note="one synthetic pair")

    def extra(d: BenchData) -> list[dict]:
        return [timing_row("learned", "box", "random weights", [0.3, 0.1, 0.2], 0.5)]

    rows = bench_segment(data, ["terf_studio.bench.segment:builtin_prompt_rows", "no_such_module:rows", extra])
    assert [r.get("prompt") for r in rows[:3]] == ["point (first click on a pair)", "point (next click, same pair)",
                                                  "box (GrabCut)"]
    assert rows[0]["runs"] == 2 and rows[0]["data"] == "one synthetic pair"
    assert rows[3]["finder"] == "no_such_module:rows" and "ModuleNotFoundError" in rows[3]["skipped"]
    assert rows[4]["seconds_median"] == 0.2 and rows[4]["meets_target"] is True
    table = format_segment_table({"rows": rows, "machine": {"cpu_count": 2, "load_average_1_5_15_min": [1, 1, 1]}})
    assert "skipped" in table and "learned" in table and "[1] one synthetic pair" in table
