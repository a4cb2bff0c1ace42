import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Hypothesis profiles for tests/fuzz, registered here (the root conftest is read before
# hypothesis's own --hypothesis-profile option is applied). "ci", the default: a few hundred
# examples over the whole fuzz suite, derandomized so every run tries the same inputs.
# "long": pytest tests/fuzz --hypothesis-profile long (thousands of random examples).
try:
    from hypothesis import HealthCheck, settings
except ImportError:  # an environment set up before hypothesis joined the dev extra
    pass
else:
    _fuzz_checks = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
    settings.register_profile(
        "ci", max_examples=20, deadline=None, derandomize=True, database=None, print_blob=False,
        suppress_health_check=_fuzz_checks,
    )
    settings.register_profile(
        "long", max_examples=1000, deadline=None, print_blob=True, suppress_health_check=_fuzz_checks,
    )
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def isolated_model_dirs(tmp_path_factory, monkeypatch):
    """Keep the user's data and settings out of tests: user models live in a fresh temporary folder."""
    home = tmp_path_factory.mktemp("userdata")
    monkeypatch.setattr("terf_studio.weights.registry.user_models_dir", lambda: home / "models")
    monkeypatch.delenv("TERF_STUDIO_MODELS", raising=False)
    monkeypatch.setenv("TERF_STUDIO_SETTINGS", str(home / "settings.json"))  # no settings file: defaults
    monkeypatch.setenv("TERF_STUDIO_SCRATCH", str(home / "scratch"))  # large arrays and patches


@pytest.fixture
def pair_dir(tmp_path):
    """A tiny RoadScene-like folder: vi/ (RGB) and ir/ (grey) with 5 pairs and a split.json."""
    import json

    from terf_studio.imaging import write_image

    rng = np.random.default_rng(0)
    names = [f"p{i}.png" for i in range(5)]
    for name in names:
        h, w = 40 + rng.integers(0, 8), 48 + rng.integers(0, 8)
        write_image(tmp_path / "vi" / name, rng.random((h, w, 3)))
        write_image(tmp_path / "ir" / name, rng.random((h, w)))
    (tmp_path / "split.json").write_text(json.dumps({"train": names[:4], "test": names[4:]}))
    return tmp_path


@pytest.fixture
def random_lite_weights(tmp_path):
    """A lite weights file with random parameters, saved through the real path."""
    import torch

    from terf_studio.fusion import build_network
    from terf_studio.fusion.checkpoint import save_weights

    torch.manual_seed(0)
    path = tmp_path / "weights" / "fusion-lite.pt"
    save_weights(path, build_network("lite"))
    return path


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny images: one torch thread avoids oversubscription on a busy machine (several times
    faster here). Modules use it with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
