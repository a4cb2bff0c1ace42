"""Fixtures the document tests share: a small scene with one warm 'person' on the left, that
scene as PNG files, and a session on it fused by a lite network with random weights saved
through the real path."""

import numpy as np
import pytest

from terf_studio.document.session import EditSession
from terf_studio.fusion import load_fuser
from terf_studio.imaging import write_image


@pytest.fixture
def scene():
    """A visible scene and an infrared image with one warm blob (a 'person') on the left."""
    h, w = 48, 64
    rng = np.random.default_rng(3)
    vi = np.clip(0.4 + 0.1 * rng.standard_normal((h, w, 3)), 0, 1).astype(np.float32)
    ir = np.full((h, w), 0.25, np.float32) + 0.02 * rng.standard_normal((h, w)).astype(np.float32)
    ir[18:34, 10:18] = 0.95
    return vi, np.clip(ir, 0, 1)


@pytest.fixture
def pair_files(scene, tmp_path):
    """The scene written as ``vi.png`` and ``ir.png`` in the test's folder: their paths."""
    vi, ir = scene
    write_image(tmp_path / "vi.png", vi)
    write_image(tmp_path / "ir.png", ir)
    return str(tmp_path / "vi.png"), str(tmp_path / "ir.png")


@pytest.fixture
def session(scene, random_lite_weights):
    vi, ir = scene
    return EditSession(vi, ir, load_fuser("lite", random_lite_weights, "cpu"))
