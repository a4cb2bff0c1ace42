"""The fuse, train, doctor and bench commands through ``terf_studio.cli.main``."""

import json

import numpy as np
import pytest

from terf_studio import __version__
from terf_studio.cli import main
from terf_studio.imaging import read_image, write_image


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_fuse_one_pair(pair_dir, random_lite_weights, tmp_path, capsys):
    out = tmp_path / "out" / "fused.png"
    code = main(["fuse", str(pair_dir / "vi" / "p0.png"), str(pair_dir / "ir" / "p0.png"), "-o", str(out),
                 "--weights", str(random_lite_weights), "--device", "cpu"])
    assert code == 0
    fused = read_image(out)
    vi = read_image(pair_dir / "vi" / "p0.png")
    assert fused.shape == vi.shape
    assert "fused" in capsys.readouterr().out


def test_fuse_writes_16_bit_tiff(pair_dir, random_lite_weights, tmp_path):
    out = tmp_path / "fused.tif"
    assert main(["fuse", str(pair_dir / "vi" / "p1.png"), str(pair_dir / "ir" / "p1.png"), "-o", str(out),
                 "--weights", str(random_lite_weights), "--bit-depth", "16"]) == 0
    import cv2

    assert cv2.imread(str(out), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_fuse_mismatched_sizes_is_one_line_error_unless_resize_is_asked(tmp_path, random_lite_weights, capsys):
    write_image(tmp_path / "vi.png", np.full((30, 40, 3), 0.5))
    write_image(tmp_path / "ir.png", np.full((15, 20), 0.5))
    args = ["fuse", str(tmp_path / "vi.png"), str(tmp_path / "ir.png"), "-o", str(tmp_path / "f.png"),
            "--weights", str(random_lite_weights)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "40x30" in err and "20x15" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "f.png").exists()
    assert main(args + ["--resize-ir"]) == 0
    assert read_image(tmp_path / "f.png").shape == (30, 40, 3)


def test_fuse_unreadable_input_is_one_line_error(tmp_path, random_lite_weights, capsys):
    (tmp_path / "vi.png").write_bytes(b"")
    write_image(tmp_path / "ir.png", np.zeros((8, 8)))
    code = main(["fuse", str(tmp_path / "vi.png"), str(tmp_path / "ir.png"), "-o", str(tmp_path / "f.png"),
                 "--weights", str(random_lite_weights)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error:") and "vi.png" in err and len(err.splitlines()) == 1


def test_fuse_missing_model_says_what_to_do(pair_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("terf_studio.weights.registry.PROJECT_ROOT", tmp_path / "nowhere")
    code = main(["fuse", str(pair_dir / "vi" / "p0.png"), str(pair_dir / "ir" / "p0.png"),
                 "-o", str(tmp_path / "f.png"), "--arch", "full"])
    err = capsys.readouterr().err
    assert code == 2 and "model 'fusion-full'" in err and "terf-studio train --arch full" in err


def test_fuse_folders(pair_dir, random_lite_weights, tmp_path, capsys):
    out = tmp_path / "fused"
    (pair_dir / "vi" / "extra.png").write_bytes((pair_dir / "vi" / "p0.png").read_bytes())  # no partner: ignored
    code = main(["fuse", "--vi-dir", str(pair_dir / "vi"), "--ir-dir", str(pair_dir / "ir"), "--out-dir", str(out),
                 "--weights", str(random_lite_weights)])
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.png" for i in range(5)]
    assert "fused 5 of 5 pairs" in capsys.readouterr().out


def test_fuse_needs_a_complete_form(capsys):
    assert main(["fuse", "only_one.png"]) == 2
    assert main(["fuse", "--vi-dir", "a"]) == 2


def test_train_then_resume_matches_an_uninterrupted_run(pair_dir, tmp_path):
    from terf_studio.fusion.checkpoint import read_checkpoint

    common = ["train", "--data", str(pair_dir), "--arch", "lite", "--crop", "32", "--batch-size", "2",
              "--val-pairs", "1", "--device", "cpu"]
    assert main(common + ["--out", str(tmp_path / "a"), "--epochs", "1"]) == 0
    assert main(common + ["--out", str(tmp_path / "a"), "--epochs", "2", "--resume"]) == 0
    assert main(common + ["--out", str(tmp_path / "b"), "--epochs", "2"]) == 0
    log = (tmp_path / "a" / "log.csv").read_text().strip().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["1", "2"]
    a = read_checkpoint(tmp_path / "a" / "last.pt")["state_dict"]
    b = read_checkpoint(tmp_path / "b" / "last.pt")["state_dict"]
    assert all(np.allclose(a[k].numpy(), b[k].numpy(), atol=1e-6) for k in a)
    pairs = json.loads((tmp_path / "a" / "pairs.json").read_text())
    assert len(pairs["validation"]) == 1 and "p4.png" not in pairs["train"] + pairs["validation"]  # test split unused
    # The best weights load through the normal fuse path.
    assert (tmp_path / "a" / "fusion-lite.pt").is_file()


def test_train_on_a_folder_without_pairs_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path), "--epochs", "1"]) == 2
    assert "vi/ and ir/" in capsys.readouterr().err


def test_doctor_lists_models_and_device(capsys):
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {m["name"] for m in report["models"]} >= {"fusion-lite", "fusion-full"}
    assert report["device"].startswith(("CPU", "CUDA"))
    assert main(["doctor"]) == 0
    assert "fusion-full" in capsys.readouterr().out


def test_bench_fuse_reports_measured_numbers(capsys):
    assert main(["bench", "fuse", "--arch", "lite", "--repeats", "1", "--device", "cpu", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["arch"] == "lite" and row["runs"] == 1 and row["size"] == "640x480"
    assert row["seconds_per_pair"] > 0 and row["peak_rss_mb"] > 50 and row["parameters"] > 10_000


def test_compare_writes_a_sheet_with_one_row_per_pair(pair_dir, random_lite_weights, tmp_path):
    out = tmp_path / "sheet.png"
    assert main(["compare", "--vi-dir", str(pair_dir / "vi"), "--ir-dir", str(pair_dir / "ir"), "--limit", "2",
                 "--height", "50", "--weights", str(random_lite_weights), "-o", str(out)]) == 0
    sheet = read_image(out)
    # Two rows of 50-pixel tiles under 22-pixel captions, 4 pixels apart.
    assert sheet.shape[0] == 2 * (50 + 22) + 4
    assert sheet.ndim == 3 and sheet.shape[1] > 5 * 50


def test_compare_columns_put_several_networks_side_by_side(pair_dir, random_lite_weights, tmp_path, capsys):
    out = tmp_path / "sheet.png"
    common = ["compare", "--vi-dir", str(pair_dir / "vi"), "--ir-dir", str(pair_dir / "ir"), "--limit", "1",
              "--height", "40", "-o", str(out), "--columns"]
    assert main([*common, "max", f"mine={random_lite_weights}"]) == 0
    two = read_image(out).shape[1]
    assert main([*common, "max", f"mine={random_lite_weights}", f"again={random_lite_weights}"]) == 0
    assert read_image(out).shape[1] > two  # one more column
    assert main([*common, "max", "nonsense"]) == 2
    assert "--columns 'nonsense'" in capsys.readouterr().err
