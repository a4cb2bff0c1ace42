"""Commands never overwrite their inputs, check every output before any work, refuse an empty
mask and a flat result, and read batch files safely (issue 14)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

from terf_studio.cli import main
from terf_studio.cli.outputs import is_constant, refuse_overwriting_inputs, same_file
from terf_studio.document.session import EditSession
from terf_studio.errors import TerfError
from terf_studio.imaging import read_image, write_image

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def pair(tmp_path):
    rng = np.random.default_rng(7)
    write_image(tmp_path / "vi.png", rng.random((24, 32, 3)))
    write_image(tmp_path / "ir.png", rng.random((24, 32)))
    return tmp_path / "vi.png", tmp_path / "ir.png"


@pytest.fixture
def zero_weights(tmp_path):
    """Weights whose every parameter is 0: the network's output is all black (as with a damaged file)."""
    import torch

    from terf_studio.fusion import build_network
    from terf_studio.fusion.checkpoint import save_weights

    net = build_network("lite")
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
    path = tmp_path / "weights" / "zero-lite.pt"
    save_weights(path, net)
    return path


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(err) == 1, err
    return err[0]


# -- outputs onto inputs -----------------------------------------------------------------------

def test_fuse_refuses_to_write_over_its_inputs(pair, random_lite_weights, capsys):
    vi, ir = pair
    before = {p: p.read_bytes() for p in pair}
    alias = vi.parent / ".." / vi.parent.name / "ir.png"  # the same file by another name
    for output in (vi, alias):
        code = main(["fuse", str(vi), str(ir), "-o", str(output), "--weights", str(random_lite_weights),
                     "--device", "cpu"])
        assert code == 2
        assert "refusing to write the output image" in _one_error_line(capsys)
    assert {p: p.read_bytes() for p in pair} == before


def test_a_hard_link_to_an_input_is_the_input(pair, random_lite_weights, capsys):
    vi, ir = pair
    link = vi.parent / "link.png"
    os.link(vi, link)
    before = vi.read_bytes()
    assert main(["fuse", str(vi), str(ir), "-o", str(link), "--weights", str(random_lite_weights)]) == 2
    assert "it is the visible image" in _one_error_line(capsys) and vi.read_bytes() == before


def test_edit_refuses_outputs_and_projects_onto_inputs(pair, random_lite_weights, capsys, monkeypatch):
    vi, ir = pair
    shutil.copy(vi, vi.parent / "vi.terf")  # an image under a project's name is still an input
    mask = vi.parent / "mask.png"
    write_image(mask, np.ones((24, 32)))
    before = {p: p.read_bytes() for p in (vi, ir, mask, vi.parent / "vi.terf")}
    monkeypatch.setattr(EditSession, "open", _no_work)
    cases = [
        [str(vi), str(ir), "-o", str(ir)],
        [str(vi), str(ir), "--mask", str(mask), "-o", str(mask)],
        [str(vi.parent / "vi.terf"), str(ir), "-o", str(vi.parent / "out.png"),
         "--save-project", str(vi.parent / "vi.terf")],
    ]
    for case in cases:
        assert main(["edit", *case, "-c", "brighten", "--weights", str(random_lite_weights)]) == 2
        assert "refusing to write the" in _one_error_line(capsys)
    assert {p: p.read_bytes() for p in before} == before


def test_batch_fusion_refuses_outputs_onto_inputs_before_any_work(pair, random_lite_weights, capsys):
    folder = pair[0].parent
    (folder / "vi").mkdir()
    (folder / "ir").mkdir()
    shutil.copy(pair[0], folder / "vi" / "a.png")
    shutil.copy(pair[1], folder / "ir" / "a.png")
    before = (folder / "ir" / "a.png").read_bytes()
    code = main(["fuse", "--vi-dir", str(folder / "vi"), "--ir-dir", str(folder / "ir"), "--out-dir",
                 str(folder / "ir"), "--weights", str(random_lite_weights)])
    assert code == 2 and "it is the infrared image" in _one_error_line(capsys)
    assert (folder / "ir" / "a.png").read_bytes() == before
    assert main(["fuse", "--vi-dir", str(folder / "vi"), "--ir-dir", str(folder / "ir"), "--out-dir",
                 str(folder / "out"), "--weights", str(random_lite_weights)]) == 0
    assert (folder / "out" / "a.png").is_file()


def test_same_file_and_refuse_overwriting_inputs(tmp_path):
    (tmp_path / "a.png").write_bytes(b"x")
    assert same_file(tmp_path / "a.png", tmp_path / "." / "a.png")
    assert not same_file(tmp_path / "a.png", tmp_path / "b.png")
    assert same_file(tmp_path / "new.png", tmp_path / "sub" / ".." / "new.png")  # neither exists yet
    refuse_overwriting_inputs({"output image": tmp_path / "b.png", "project": None},
                              [("visible image", tmp_path / "a.png"), ("weights file", None)])
    with pytest.raises(TerfError, match="it is the visible image"):
        refuse_overwriting_inputs({"output image": str(tmp_path / "a.png")}, {"visible image": tmp_path / "a.png"})


# -- outputs checked before any work -----------------------------------------------------------

def _no_work(*args, **kwargs):
    raise AssertionError("the edit ran although an output could not be written")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["-o", "x.xyz"], "unsupported file type '.xyz'"),
        (["-o", "x.jpg", "--bit-depth", "16"], "supports 8-bit, not 16-bit"),
        (["-o", "x.png", "--save-project", "x.xyz"], "a project file must end in .terf"),
    ],
)
def test_edit_outputs_are_checked_before_any_work(pair, tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(EditSession, "open", _no_work)
    assert main(["edit", str(pair[0]), str(pair[1]), "-c", "brighten the whole image", *extra]) == 2
    assert message in _one_error_line(capsys)
    assert not (tmp_path / "x.png").exists()


def test_fuse_output_is_checked_before_any_work(pair, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("terf_studio.cli.fuse.load_fuser", _no_work)
    assert main(["fuse", str(pair[0]), str(pair[1]), "-o", str(tmp_path / "x.xyz")]) == 2
    assert "unsupported file type" in _one_error_line(capsys)
    assert main(["fuse", "--vi-dir", str(tmp_path), "--ir-dir", str(tmp_path), "--out-dir", str(tmp_path / "o"),
                 "--ext", "gif"]) == 2
    assert "unsupported file type '.gif'" in _one_error_line(capsys)


# -- all-black mask ----------------------------------------------------------------------------

def test_an_all_black_mask_is_an_error_before_any_work(pair, tmp_path, monkeypatch, capsys):
    write_image(tmp_path / "black.png", np.zeros((24, 32)))
    monkeypatch.setattr(EditSession, "open", _no_work)
    code = main(["edit", str(pair[0]), str(pair[1]), "-c", "brighten", "--mask", str(tmp_path / "black.png"),
                 "-o", str(tmp_path / "out.png")])
    assert code == 2
    assert "black.png' is all black" in _one_error_line(capsys)
    assert not (tmp_path / "out.png").exists()


# -- flat results ------------------------------------------------------------------------------

def test_fuse_does_not_write_a_flat_image_from_damaged_weights(pair, zero_weights, tmp_path, capsys):
    out = tmp_path / "fused.png"
    code = main(["fuse", str(pair[0]), str(pair[1]), "-o", str(out), "--weights", str(zero_weights),
                 "--device", "cpu"])
    line = _one_error_line(capsys)
    assert code == 2 and "every pixel would be 0" in line and "weights are probably damaged" in line
    assert not out.exists()


def test_batch_fusion_skips_flat_results(pair, zero_weights, tmp_path, capsys):
    folder = tmp_path / "batch"
    for sub in ("vi", "ir"):
        (folder / sub).mkdir(parents=True)
    shutil.copy(pair[0], folder / "vi" / "a.png")
    shutil.copy(pair[1], folder / "ir" / "a.png")
    code = main(["fuse", "--vi-dir", str(folder / "vi"), "--ir-dir", str(folder / "ir"),
                 "--out-dir", str(folder / "out"), "--weights", str(zero_weights)])
    assert code == 2 and "weights are probably damaged" in capsys.readouterr().err
    assert not (folder / "out" / "a.png").exists()


def test_edit_does_not_write_a_flat_image(pair, zero_weights, tmp_path, capsys):
    out = tmp_path / "edited.png"
    code = main(["edit", str(pair[0]), str(pair[1]), "-c", "brighten", "-o", str(out),
                 "--weights", str(zero_weights), "--device", "cpu"])
    assert code == 2 and "weights are probably damaged" in _one_error_line(capsys)
    assert not out.exists()


def test_flat_inputs_may_give_a_flat_output(tmp_path, zero_weights):
    write_image(tmp_path / "vi.png", np.zeros((16, 16, 3)))
    write_image(tmp_path / "ir.png", np.zeros((16, 16)))
    assert main(["fuse", str(tmp_path / "vi.png"), str(tmp_path / "ir.png"), "-o", str(tmp_path / "f.png"),
                 "--weights", str(zero_weights)]) == 0
    assert read_image(tmp_path / "f.png").max() == 0


def test_is_constant_looks_at_the_written_values():
    assert is_constant(np.zeros((4, 4)))
    assert is_constant(np.full((4, 4), 0.5) + np.linspace(0, 1e-6, 16).reshape(4, 4), bit_depth=8)
    assert not is_constant(np.linspace(0, 1, 16).reshape(4, 4))
    # 16-bit values written at 8 bits: 30000 and 30100 both become 117
    assert is_constant(np.array([30000, 30100], np.uint16), bit_depth=8)
    assert not is_constant(np.array([30000, 30100], np.uint16), bit_depth=16)
    assert not is_constant(np.array([3, 4], np.uint8), bit_depth=8)
    assert is_constant(np.full((3, 3), 7, np.uint16)) and not is_constant(np.arange(9, dtype=np.uint8))


# -- parse --batch -----------------------------------------------------------------------------

def test_parse_batch_that_is_not_utf8_is_one_line_exit_2(tmp_path, capsys):
    batch = tmp_path / "cmds.txt"
    batch.write_bytes(b"brighten the trees\ndarken the \xff road\n")
    assert main(["parse", "--batch", str(batch), "--llm", "none"]) == 2
    line = _one_error_line(capsys)
    assert "not UTF-8" in line and "0xff" in line and "line 2" in line


def test_parse_never_echoes_control_characters(tmp_path, capsys):
    batch = tmp_path / "cmds.txt"
    batch.write_bytes("brighten the \x1b[31mtrees\x07\ndarken\x00 the \x9b1mroad\x1b]0;title\x07\n".encode())
    assert main(["parse", "--batch", str(batch), "--llm", "none"]) == 0
    out = capsys.readouterr().out
    assert not any(ord(c) < 32 and c not in "\t\n" or 0x7F <= ord(c) <= 0x9F for c in out), repr(out)
    assert "31m" not in out and "brighten  trees" in out and "darken    road" in out
    assert main(["parse", "--batch", str(batch), "--llm", "none", "--json"]) == 0
    assert "\\u001b" not in capsys.readouterr().out
