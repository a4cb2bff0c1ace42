"""The bundled sample pair is what packaging/make-sample.py draws (issue 17)."""

from __future__ import annotations

import importlib.util

import numpy as np

from terf_studio.imaging import read_image
from terf_studio.paths import PROJECT_ROOT, resource_path


def test_the_shipped_sample_pair_is_the_scripts_drawing():
    spec = importlib.util.spec_from_file_location("make_sample", PROJECT_ROOT / "packaging" / "make-sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    vi, ir = module.render_pair()
    shipped_vi = read_image(resource_path("samples", module.VISIBLE_NAME))
    shipped_ir = read_image(resource_path("samples", module.INFRARED_NAME))
    assert shipped_vi.shape == (480, 640, 3) and shipped_ir.shape == (480, 640)
    # The same picture, up to a grey level (rounding, or a drawing library's version).
    assert np.abs(shipped_vi - vi).max() <= 1.5 / 255 and np.abs(shipped_ir - ir).max() <= 1.5 / 255
    # What the sample is for: the pedestrian is dark to the eye and warm in infrared.
    person = (slice(275, 385), slice(48, 76))
    assert vi[person].mean() < 0.12 and ir[person].mean() > 0.6
    assert (resource_path("samples", "README.md")).read_text().count("synthetic") >= 1
