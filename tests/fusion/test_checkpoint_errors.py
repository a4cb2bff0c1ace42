"""Loading fusion and engine weights: one short line of our own for every failure (never torch's
advice to load with ``weights_only=False``), and ``--arch`` never silently ignored."""

from __future__ import annotations

import pickle
import warnings

import pytest
import torch

from terf_studio.cli import main
from terf_studio.errors import ModelError
from terf_studio.fusion.checkpoint import load_network, load_weights_file, save_weights
from terf_studio.fusion.inference import load_fuser
from terf_studio.fusion.network import build_network
from terf_studio.tuning.engines.weights import read_engine

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Payload:
    """Not a tensor or plain data: ``weights_only`` loading refuses it."""


@pytest.fixture
def foreign_object_file(tmp_path):
    """A whole zip archive (every CRC matches) whose pickle names a class of ours."""
    path = tmp_path / "objects.pt"
    torch.save({"format": "terf-fusion/1", "payload": _Payload()}, path)
    return path


@pytest.mark.parametrize("reader", [lambda p: load_weights_file(p), lambda p: read_engine(p, "denoise")])
def test_a_file_holding_python_objects_is_one_short_line_of_our_own(reader, foreign_object_file):
    with pytest.raises(ModelError) as err:
        reader(foreign_object_file)
    text = str(err.value)
    assert "\n" not in text and len(text) < 250, text
    assert str(foreign_object_file) in text and "holds Python objects" in text
    assert "weights_only" not in text and "torch.load" not in text


def test_a_pickle_gives_no_torch_warning_and_no_torch_advice(tmp_path):
    path = tmp_path / "legacy.pt"
    path.write_bytes(pickle.dumps({"format": "terf-fusion/1", "extra": {1, 2}}, protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's pickle-protocol UserWarning would fail here
        with pytest.raises(ModelError) as err:
            read_engine(path, "denoise")
    text = str(err.value)
    assert text.startswith("cannot load engine weights") and "weights_only" not in text and "\n" not in text


def test_failure_reasons_are_ours_for_every_kind_of_torch_error(tmp_path, monkeypatch):
    path = tmp_path / "w.pt"
    save_weights(path, build_network("lite"))

    def fail(*args, **kwargs):
        raise RuntimeError("PytorchStreamReader failed reading file data/0: invalid header or archive is "
                           "corrupted\nThis is an internal miniz error. Re-run with weights_only=False ...")

    monkeypatch.setattr(torch, "load", fail)
    with pytest.raises(ModelError) as err:
        load_weights_file(path)
    assert str(err.value) == f"cannot load weights '{path}': not a readable PyTorch weights file (RuntimeError)"


# ---------------------------------------------------------------------------- --arch and the weights' network


def test_load_fuser_refuses_an_arch_the_weights_are_not_for(random_lite_weights):
    with pytest.raises(ModelError, match="are for the 'lite' network, not 'full'"):
        load_fuser("full", random_lite_weights, "cpu")
    assert load_fuser(None, random_lite_weights, "cpu").arch == "lite"  # no arch: the file's
    assert load_fuser("lite", random_lite_weights, "cpu").arch == "lite"
    with pytest.raises(ModelError, match="not 'full'"):
        load_network(random_lite_weights, "full")


def test_a_student_with_an_earlier_smaller_head_still_loads_as_the_student(tmp_path):
    from dataclasses import replace

    from terf_studio.fusion.checkpoint import save_weights
    from terf_studio.fusion.network import STUDENT, FusionNet

    earlier = replace(STUDENT, head_features=16, head_layers=3)  # the student shipped before its head grew
    save_weights(tmp_path / "earlier.pt", FusionNet(earlier))
    fuser = load_fuser("student", tmp_path / "earlier.pt", "cpu")
    assert fuser.arch == "student" and fuser.net.config == earlier != STUDENT


def test_fuse_with_arch_full_and_lite_weights_is_a_one_line_error(pair_dir, random_lite_weights, tmp_path, capsys):
    vi, ir = str(pair_dir / "vi" / "p0.png"), str(pair_dir / "ir" / "p0.png")
    out = tmp_path / "fused.png"
    code = main(["fuse", vi, ir, "-o", str(out), "--weights", str(random_lite_weights), "--arch", "full",
                 "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists() and len(err.splitlines()) == 1
    assert "for the 'lite' network, not 'full'" in err
    # Without --arch the network is the one the file holds.
    assert main(["fuse", vi, ir, "-o", str(out), "--weights", str(random_lite_weights), "--device", "cpu"]) == 0
    assert "(lite," in capsys.readouterr().out


def test_edit_with_arch_full_and_lite_weights_is_a_one_line_error(pair_dir, random_lite_weights, tmp_path, capsys):
    out = tmp_path / "edited.png"
    code = main(["edit", str(pair_dir / "vi" / "p0.png"), str(pair_dir / "ir" / "p0.png"), "--command",
                 "brighten everything", "-o", str(out), "--weights", str(random_lite_weights), "--arch", "full",
                 "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and not out.exists() and "for the 'lite' network, not 'full'" in err
