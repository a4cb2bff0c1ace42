"""``terf-studio export``: a saved project written out again, byte for byte as export_session writes it.

(The comparison with the editor's own File > Export is in tests/gui/test_gui_export_cli.py.)
"""

from __future__ import annotations

import numpy as np
import pytest

from terf_studio.cli import main
from terf_studio.document.export import export_session
from terf_studio.document.project import load_project, save_project
from terf_studio.document.session import EditSession
from terf_studio.fusion import load_fuser
from terf_studio.imaging import read_image
from terf_studio.language import Edit, Task
from terf_studio.regions import Mask

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _half(shape, right: bool, label: str) -> Mask:
    data = np.zeros(shape, np.float32)
    if right:
        data[:, shape[1] // 2:] = 1.0
    else:
        data[:, : shape[1] // 2] = 0.6  # a soft mask: written as 16-bit
    return Mask(data, label=label)


@pytest.fixture
def project(random_lite_weights, tmp_path):
    """A project of two steps saved after undoing the second, with two mask layers."""
    rng = np.random.default_rng(5)
    vi = rng.random((40, 52, 3)).astype(np.float32)
    ir = rng.random((40, 52)).astype(np.float32)
    session = EditSession(vi, ir, load_fuser("lite", random_lite_weights, "cpu"))
    session.apply([Edit(None, Task.BLUR, 2.0)], [_half((40, 52), True, "right")], text="blur the right")
    session.apply([Edit(None, Task.BLUR, 3.0)], [_half((40, 52), False, "left")], text="blur the left")
    session.undo()
    session.masks = [_half((40, 52), True, "right side").quantized(16), _half((40, 52), False, "left").quantized(16)]
    return save_project(session, tmp_path / "work.terf")


def _bytes(paths):
    return [p.read_bytes() for p in paths]


def test_export_writes_what_export_session_writes(project, tmp_path, capsys):
    expected = export_session(load_project(project, device="cpu"), tmp_path / "ref" / "out.tif", bit_depth=16,
                              masks=True)
    out = tmp_path / "cli" / "out.tif"
    code = main(["export", str(project), "-o", str(out), "--bit-depth", "16", "--masks", str(tmp_path / "masks")])
    assert code == 0, capsys.readouterr().err
    assert "after step 1 of 2" in capsys.readouterr().out
    written = [out, tmp_path / "masks" / "out.mask-0-right-side.png", tmp_path / "masks" / "out.mask-1-left.png"]
    assert [p.name for p in expected] == [p.name for p in written]
    assert _bytes(written) == _bytes(expected)
    assert not (tmp_path / "cli" / "out.mask-0-right-side.png").exists()  # the masks went to DIR only


def test_step_chooses_the_point_in_the_history(project, tmp_path):
    session = load_project(project, device="cpu")
    for n in (0, 2):
        out = tmp_path / f"step{n}.png"
        assert main(["export", str(project), "-o", str(out), "--step", str(n)]) == 0
        session.go_to(n)
        ref = export_session(session, tmp_path / f"ref{n}.png")
        assert out.read_bytes() == ref[0].read_bytes()
    assert (tmp_path / "step0.png").read_bytes() != (tmp_path / "step2.png").read_bytes()
    fused = read_image(tmp_path / "step0.png")
    assert np.abs(fused - session.fused).max() <= 0.5 / 255 + 1e-6  # step 0 is the fusion before any edit


def test_bad_requests_are_one_line_errors(project, tmp_path, capsys):
    assert main(["export", str(project), "-o", str(tmp_path / "x.png"), "--step", "3"]) == 2
    assert "between 0 and 2" in capsys.readouterr().err
    assert main(["export", str(project), "-o", str(tmp_path / "x.jpg")]) == 2
    assert ".png or .tif" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.terf"), "-o", str(tmp_path / "x.png")]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_export_never_writes_over_the_sources_of_the_project(random_lite_weights, tmp_path, capsys):
    from terf_studio.imaging import write_image

    rng = np.random.default_rng(6)
    vi_path, ir_path = tmp_path / "vi.png", tmp_path / "ir.png"
    write_image(vi_path, rng.random((24, 32, 3)).astype(np.float32))
    write_image(ir_path, rng.random((24, 32)).astype(np.float32))
    session = EditSession.open(vi_path, ir_path, weights=str(random_lite_weights), device="cpu")
    project = save_project(session, tmp_path / "p.terf")
    before = vi_path.read_bytes()
    assert main(["export", str(project), "-o", str(tmp_path / "." / "vi.png")]) == 2
    err = capsys.readouterr().err
    assert "visible image the project came from" in err and len(err.strip().splitlines()) == 1
    assert vi_path.read_bytes() == before
