import pytest
import torch

from terf_studio.errors import ModelError, TerfError
from terf_studio.fusion import FULL, LITE, build_network, count_parameters, run_network
from terf_studio.fusion.checkpoint import load_network, save_weights
from terf_studio.fusion.network import get_config


def test_full_configuration_has_the_published_parameter_count():
    # The paper's code reports 1.765 M parameters for its RDN.
    assert count_parameters(build_network("full")) == 1_765_522


def test_lite_is_much_smaller_than_full():
    assert count_parameters(build_network("lite")) < count_parameters(build_network("full")) / 15


@pytest.mark.parametrize("arch", ["lite", "full"])
@pytest.mark.parametrize("size", [(17, 23), (32, 32), (9, 40)])
def test_any_input_size_gives_rgb_of_the_same_size_in_unit_range(arch, size):
    torch.manual_seed(0)
    net = build_network(arch).eval()
    ir = torch.rand(1, 1, *size)
    vi = torch.rand(1, 3, *size)
    with torch.no_grad():
        out = run_network(net, ir, vi)
    assert out.shape == (1, 3, *size)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_grey_visible_input_is_accepted():
    net = build_network("lite").eval()
    with torch.no_grad():
        out = run_network(net, torch.rand(1, 1, 20, 30), torch.rand(1, 1, 20, 30))
    assert out.shape == (1, 3, 20, 30)


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(TerfError, match="unknown architecture 'huge'"):
        get_config("huge")


def test_weights_round_trip_and_mismatch_errors(tmp_path):
    torch.manual_seed(1)
    net = build_network("lite").eval()
    path = tmp_path / "w.pt"
    save_weights(path, net, {"note": "test"})
    loaded, payload = load_network(path, "lite")
    assert payload["meta"] == {"note": "test"}
    for a, b in zip(net.state_dict().values(), loaded.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(ModelError, match="for the 'lite' network, not 'full'"):
        load_network(path, "full")


def test_corrupt_or_foreign_weights_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError) as info:
        load_network(bad)
    assert "\n" not in str(info.value) and "bad.pt" in str(info.value)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    with pytest.raises(ModelError, match="not a TeRF Studio fusion weights file"):
        load_network(foreign)
    with pytest.raises(ModelError, match="not found"):
        load_network(tmp_path / "missing.pt")


def test_weights_of_a_different_shape_do_not_load(tmp_path):
    net = build_network("lite")
    path = tmp_path / "w.pt"
    save_weights(path, net)
    payload = torch.load(path, weights_only=True)
    payload["config"]["features"] = 32  # claims a wider network than the tensors hold
    torch.save(payload, path)
    with pytest.raises(ModelError, match="do not fit"):
        load_network(path)


def test_configs_round_trip_through_dicts():
    for config in (FULL, LITE):
        assert type(config)(**config.to_dict()) == config
