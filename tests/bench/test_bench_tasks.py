"""``terf-studio bench tasks`` (the paper's Table 2) on a tiny synthetic RoadScene-like folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from terf_studio.bench import tasks as bench_tasks
from terf_studio.cli import main
from terf_studio.imaging import write_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _scene(h: int, w: int, phase: float):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    vi = np.stack([0.5 + 0.25 * np.sin(xx / 6.0 + phase), 0.5 + 0.25 * np.cos(yy / 7.0),
                   0.5 + 0.2 * np.sin((xx + yy) / 9.0)], -1)
    ir = 0.2 + 0.7 * np.exp(-((yy - h / 2) ** 2 + (xx - w / 2 - 5 * phase) ** 2) / 80.0)
    return vi.astype(np.float32), ir.astype(np.float32)


@pytest.fixture
def roadscene_like(tmp_path):
    names = ["a.png", "b.png", "c.png"]
    for i, name in enumerate(names):
        vi, ir = _scene(48, 64, float(i))
        write_image(tmp_path / "vi" / name, vi)
        write_image(tmp_path / "ir" / name, ir)
    (tmp_path / "split.json").write_text(json.dumps({"train": ["c.png"], "test": ["b.png", "a.png"]}))
    return tmp_path


def test_table_rows_metrics_and_denoise_recovers_the_clean_fusion(roadscene_like, capsys):
    code = main(["bench", "tasks", "--data", str(roadscene_like), "--pairs", "1", "--iterations", "40",
                 "--device", "cpu", "--no-timing", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pairs"] == 1 and result["names"] == ["b"]  # the first of the test list
    assert result["mode"] == "iterations" and result["timing_640x480_quarter_mask"] is None
    rows = {r["row"]: r for r in result["rows"]}
    assert list(rows) == ["baseline", "I", "II", "III", "IV", "V", "VI", "VII"]
    for name, r in rows.items():
        expected = set(bench_tasks.METRICS) | set(bench_tasks.DIRECTION_METRICS) | (
            set(bench_tasks.CLEAN_METRICS) if name in ("V", "VI", "VII") else set())
        assert set(r["metrics"]) == expected and set(r["std"]) == expected
        assert all(np.isfinite(v) for v in r["metrics"].values())
        assert r["paper"] == bench_tasks.PAPER_TABLE2[name]
    assert (rows["VI"]["task"], rows["VI"]["mode"]) == ("denoise", "fused")
    assert (rows["VII"]["task"], rows["VII"]["mode"]) == ("denoise", "visible")
    assert rows["I"]["iterations"] == 40 and rows["V"]["task"] is None
    # Noise lowers the structural similarity to the clean sources. Denoising the visible image
    # before fusing (VII) brings the result closer to the clean fusion than the noisy fusion (V)
    # and than denoising the fused image (VI), whose noise the network has made spatially
    # correlated (measured here: V 29.7 dB, VI 29.8 dB, VII 31.0 dB; the paper's ordering too).
    assert rows["V"]["metrics"]["SSIM"] < rows["baseline"]["metrics"]["SSIM"]
    clean = {r: rows[r]["metrics"]["PSNR_clean"] for r in ("V", "VI", "VII")}
    assert clean["VII"] > clean["V"] + 0.5 and clean["VII"] > clean["VI"]
    # Inclination towards the infrared and towards the visible change the image differently.
    assert rows["I"]["metrics"]["SD"] != rows["II"]["metrics"]["SD"]


def test_text_table_shows_every_row_and_the_paper(roadscene_like, capsys):
    assert main(["bench", "tasks", "--data", str(roadscene_like), "--pairs", "5", "--iterations", "1",
                 "--device", "cpu", "--no-timing"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert "pairs: 2" in lines[0]  # only two test pairs exist
    assert "b: 1 of 2" in captured.err and "a: 2 of 2" in captured.err  # the test list, in its order
    for row in bench_tasks.ROWS:
        assert any(line.startswith(f"{row} ") for line in lines), row
    assert sum(line.startswith("  paper") for line in lines) == len(bench_tasks.ROWS)


def test_timing_rows_use_a_quarter_mask(monkeypatch):
    from terf_studio.fusion import load_fuser

    monkeypatch.setattr(bench_tasks, "TIMING_SIZE", (40, 56))
    vi, ir = _scene(30, 50, 0.0)
    rows = bench_tasks.timing_rows(vi, ir, load_fuser("lite", device="cpu"), iterations=2)
    assert [r["row"] for r in rows] == list(bench_tasks.ROWS)
    assert all(r["seconds"] >= 0 for r in rows)
    assert {r["row"]: r["iterations"] for r in rows} == {"baseline": 0, "I": 2, "II": 2, "III": 2, "IV": 2, "V": 0,
                                                         "VI": 2, "VII": 2}


def test_quarter_mask_covers_a_quarter_and_noise_is_fixed():
    mask = bench_tasks.quarter_mask((480, 640))
    assert mask.shape == (480, 640) and mask[240, 320] == 1.0 and mask[0, 0] == 0.0
    assert abs(float((mask >= 0.5).mean()) - 0.25) < 0.01
    assert 0.0 < float(mask[120, 320 - 0]) < 1.0 or 0.0 < float(mask[120 - 1, 320]) < 1.0  # feathered edge
    vi = np.full((8, 8, 3), 0.5, np.float32)
    a, b = bench_tasks.add_noise(vi, 3), bench_tasks.add_noise(vi, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, bench_tasks.add_noise(vi, 4))
    assert abs(float((a - vi).std()) - 25 / 255) < 0.02


def test_engines_are_compared_on_each_rows_own_measure(roadscene_like, capsys):
    code = main(["bench", "tasks", "--data", str(roadscene_like), "--pairs", "1", "--iterations", "3",
                 "--device", "cpu", "--no-timing", "--engines", "fast,quick", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result["engines"]) == {"fast", "quick"} and result["reference"] == "quick"
    assert result["engines"]["fast"]["mode"] == "fast"
    rows = {r["row"]: r for r in result["engines"]["fast"]["rows"]}
    assert rows["I"]["iterations"] == 0  # the fast engine trains nothing
    comparison = {c["row"]: c for c in result["comparison"]}
    assert list(comparison) == ["I", "II", "III", "IV", "VI", "VII"]
    for c in comparison.values():
        assert isinstance(c["fast_at_least_quick"], bool)
        assert np.isfinite(c["fast"]) and np.isfinite(c["quick"])
    # Brighten raises and darken lowers the mean grey level with either engine.
    assert comparison["III"]["fast"] > 0 and comparison["IV"]["fast"] > 0


def test_rows_subset_and_pair_log(roadscene_like, tmp_path, capsys):
    log = tmp_path / "pairs.jsonl"
    code = main(["bench", "tasks", "--data", str(roadscene_like), "--pairs", "2", "--iterations", "2",
                 "--device", "cpu", "--no-timing", "--rows", "III,VII", "--pair-log", str(log), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    made = {r["row"] for r in result["rows"] if r["metrics"]}
    assert made == {"baseline", "III", "V", "VII"}
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["pair"] for line in lines] == ["b", "a"]
    assert set(lines[0]["rows"]) == {"baseline", "V", "III", "VII"}
    mean_iii = np.mean([line["rows"]["III"]["metrics"]["MEAN"] for line in lines])
    assert mean_iii == pytest.approx({r["row"]: r for r in result["rows"]}["III"]["metrics"]["MEAN"])


def test_resume_takes_logged_pairs_and_makes_only_the_rest(roadscene_like, tmp_path, capsys):
    log = tmp_path / "pairs.jsonl"
    common = ["bench", "tasks", "--data", str(roadscene_like), "--iterations", "2", "--device", "cpu",
              "--no-timing", "--rows", "III", "--pair-log", str(log), "--json"]
    assert main([*common, "--pairs", "2"]) == 0
    whole = json.loads(capsys.readouterr().out)
    log.write_text(log.read_text().splitlines()[0] + "\n" + '{"engine": "quick", "pa')  # stopped mid-line
    assert main([*common, "--pairs", "2", "--resume"]) == 0
    resumed = json.loads(capsys.readouterr().out)
    lines = log.read_text().splitlines()
    assert [json.loads(line)["pair"] for line in lines if line.endswith("}")] == ["b", "a"]  # only "a" made again
    assert len(lines) == 3  # the cut line stays on its own
    assert resumed["names"] == whole["names"] == ["b", "a"]
    by_row = lambda result: {r["row"]: r["metrics"] for r in result["rows"]}  # noqa: E731
    assert by_row(resumed)["III"]["MEAN"] == pytest.approx(by_row(whole)["III"]["MEAN"])  # same seed per pair
    assert main([*common, "--pairs", "2", "--resume", "--rows", "IV"]) == 0  # rows the log lacks: made again
    assert len(log.read_text().splitlines()) == 5


def test_unknown_rows_are_a_clear_error(roadscene_like, capsys):
    assert main(["bench", "tasks", "--data", str(roadscene_like), "--rows", "VIII", "--no-timing"]) == 2
    assert "--rows takes" in capsys.readouterr().err
