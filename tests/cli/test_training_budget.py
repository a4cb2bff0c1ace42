"""``train --max-minutes``: a wall-clock budget that ends a run between epochs, resumable."""

from __future__ import annotations

import types

from terf_studio.cli import main
from terf_studio.fusion import training
from terf_studio.fusion.training import TrainOptions, train


def _fake_clock(step: float):
    """perf_counter that advances ``step`` seconds at every call."""
    now = [0.0]

    def perf_counter() -> float:
        now[0] += step
        return now[0]

    return types.SimpleNamespace(perf_counter=perf_counter)


def _opts(pair_dir, out, **kw) -> TrainOptions:
    settings = dict(data=pair_dir, out=out, arch="lite", epochs=5, batch_size=2, crop=32, val_pairs=1, device="cpu")
    return TrainOptions(**{**settings, **kw})


def test_budget_stops_between_epochs_and_resume_continues(pair_dir, tmp_path, monkeypatch):
    # Each clock read advances 20 s: loading ends at 20 s, epoch 1 takes 20 s (ends at 60 s with the
    # budget of 60 s used up), so epoch 2 (20 s more) no longer fits.
    monkeypatch.setattr(training, "time", _fake_clock(20.0))
    summary = train(_opts(pair_dir, tmp_path / "run", max_minutes=1.0), progress=False)
    assert summary["epochs"] == 1 and "time budget" in summary["stopped"]
    log = (tmp_path / "run" / "log.csv").read_text().strip().splitlines()
    assert [line.split(",")[0] for line in log[1:]] == ["1"]
    assert (tmp_path / "run" / "fusion-lite.pt").is_file() and (tmp_path / "run" / "last.pt").is_file()
    monkeypatch.undo()
    summary = train(_opts(pair_dir, tmp_path / "run", resume=True, epochs=2), progress=False)
    assert summary["epochs"] == 2 and summary["stopped"] is None


def test_cli_budget_option(pair_dir, tmp_path, capsys):
    code = main(["train", "--data", str(pair_dir), "--arch", "lite", "--crop", "32", "--batch-size", "2",
                 "--val-pairs", "1", "--device", "cpu", "--epochs", "1", "--max-minutes", "30",
                 "--out", str(tmp_path / "cli")])
    assert code == 0 and "trained 1 epochs" in capsys.readouterr().out
    assert main(["train", "--data", str(pair_dir), "--max-minutes", "0", "--out", str(tmp_path / "x")]) == 2
