"""Fast local edits on a large box are streamed tile by tile into the new image, with the same
result as the unstreamed edit (thresholds lowered so a small image streams in many tiles)."""

import numpy as np
import pytest

from terf_studio.fusion import inference
from terf_studio.tuning import run_task, streamed
from terf_studio.tuning.composite import feather
from terf_studio.tuning.engines import conditioned


def _document(h=260, w=300):
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.45 + 0.3 * np.sin(xx / 13)[..., None] * np.cos(yy / 17)[..., None]
    image = np.clip(base + 0.08 * rng.standard_normal((h, w, 3)), 0, 1)
    ir = np.clip(0.5 + 0.3 * np.cos(xx / 9) + 0.05 * rng.standard_normal((h, w)), 0, 1)
    to16 = lambda a: np.rint(a * 65535).astype(np.uint16)  # noqa: E731
    return to16(image), to16(image), to16(ir)


def _region(h=260, w=300):
    core = np.zeros((h, w), np.float32)
    core[20:240, 30:280] = 1.0
    return feather(core, 5.0)


@pytest.mark.parametrize("task, mode, whole", [
    ("brighten", None, True), ("darken", None, False), ("blur", "gaussian", False), ("blur", "pixelate", True),
    ("infrared", None, False), ("visible", None, True), ("denoise", "visible", False), ("denoise", "fused", True),
])
def test_a_streamed_edit_equals_the_unstreamed_one(monkeypatch, task, mode, whole):
    fused, vi, ir = _document()
    mask = None if whole else _region()
    args = dict(vi=vi, ir=ir, fused=fused, mask=mask, engine="fast", mode=mode, strength=1.5)
    monkeypatch.setitem(inference.FUSION_TILES, "lite", 96)  # the unstreamed fusion tiles the same way
    plain = run_task(task, **args)
    assert plain.state is not None and "streamed_tiles" not in plain.params
    monkeypatch.setattr(streamed, "STREAM_MIN_PIXELS", 1000)
    monkeypatch.setattr(streamed, "STREAM_TILE", 64)
    monkeypatch.setattr(conditioned, "INCLINATION_TILE", 96)  # the staged tiles of infrared/visible
    monkeypatch.setitem(inference.FUSION_TILES, "lite", 96)  # and of the fusion after a visible denoise
    seen = []
    tiled = run_task(task, **args, progress=lambda i, n, loss: seen.append((i, n)))
    assert tiled.params["streamed_tiles"] > 4 and seen and seen[-1][0] <= seen[-1][1]
    assert tiled.state is None and tiled.image.dtype == np.uint16
    diff = np.abs(tiled.image.astype(np.int32) - plain.image.astype(np.int32))
    assert diff.max() <= 1, diff.max()  # 1 of 65535: float rounding of the convolutions at most
    if mask is not None:
        assert np.array_equal(tiled.image[mask == 0], fused[mask == 0])
    assert not np.array_equal(tiled.image, fused)


def test_only_large_fast_local_edits_stream(monkeypatch):
    from terf_studio.tuning.region import Box

    big = Box(0, 0, 5000, 4000)
    assert streamed.streams("brighten", "fast", big, False)
    assert not streamed.streams("brighten", "fast", big, True)  # a repeat continues its state
    assert not streamed.streams("brighten", "quick", big, False)
    assert streamed.streams("denoise", "fast", big, False)
    assert not streamed.streams("blur", "fast", Box(0, 0, 3000, 4000), False)
