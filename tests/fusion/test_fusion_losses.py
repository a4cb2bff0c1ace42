import pytest
import torch

from terf_studio.fusion.losses import FusionLoss, color_loss, gradient_loss, intensity_loss, sobel_magnitude, ssim


def test_sobel_of_a_constant_is_zero_and_of_a_step_is_known():
    assert float(sobel_magnitude(torch.full((1, 1, 8, 8), 0.3)).abs().max()) == 0.0
    step = torch.zeros(1, 1, 6, 6)
    step[..., 3:] = 1.0  # vertical edge between columns 2 and 3
    mag = sobel_magnitude(step)
    # On an interior row, columns 2 and 3 see the edge with |Gx| = 1 + 2 + 1 = 4, |Gy| = 0.
    assert mag[0, 0, 2, 2].item() == pytest.approx(4.0)
    assert mag[0, 0, 2, 3].item() == pytest.approx(4.0)
    assert mag[0, 0, 2, 0].item() == 0.0


def test_intensity_loss_targets():
    y_f = torch.full((1, 1, 4, 4), 0.5)
    y_ir = torch.full((1, 1, 4, 4), 0.9)
    y_vi = torch.full((1, 1, 4, 4), 0.2)
    assert intensity_loss(y_f, y_ir, y_vi, "max").item() == pytest.approx(0.4)
    assert intensity_loss(y_f, y_ir, y_vi, "infrared").item() == pytest.approx(0.4)
    assert intensity_loss(y_f, y_ir, y_vi, "visible").item() == pytest.approx(0.3)


def test_gradient_loss_is_zero_when_fused_carries_the_larger_gradient():
    y_vi = torch.zeros(1, 1, 6, 6)
    y_vi[..., 3:] = 1.0
    y_ir = torch.full((1, 1, 6, 6), 0.4)
    assert gradient_loss(y_vi, y_ir, y_vi).item() == pytest.approx(0.0, abs=1e-6)
    assert gradient_loss(y_ir, y_ir, y_vi).item() > 0.5


def test_color_loss_sums_cr_and_cb_mean_errors():
    a = torch.zeros(1, 2, 3, 3)
    b = torch.stack([torch.full((3, 3), 0.1), torch.full((3, 3), 0.3)])[None]
    assert color_loss(a, b).item() == pytest.approx(0.4)


def test_ssim_of_identical_images_is_one_and_drops_with_noise():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 32, 32)
    assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-5)
    assert ssim(x, (x + 0.3 * torch.randn_like(x)).clamp(0, 1)).item() < 0.8


def test_total_loss_weights_and_modes():
    torch.manual_seed(0)
    vi = torch.rand(1, 3, 24, 24)
    ir = torch.rand(1, 1, 24, 24)
    fused = torch.rand(1, 3, 24, 24)
    total, terms = FusionLoss()(fused, ir, vi)
    expected = terms["intensity"] + terms["gradient"] + terms["color"] + 0.1 * terms["ssim"]
    assert total.item() == pytest.approx(expected, rel=1e-5)
    # Leaning to the visible image: the visible image itself has zero intensity, colour and SSIM error.
    _, vis_terms = FusionLoss(mode="visible")(vi, ir, vi)
    assert vis_terms["intensity"] == pytest.approx(0.0, abs=1e-6)
    assert vis_terms["color"] == pytest.approx(0.0, abs=1e-6)
    assert vis_terms["ssim"] == pytest.approx(0.0, abs=1e-4)
    with pytest.raises(ValueError):
        FusionLoss(mode="sideways")


def test_loss_has_gradients_for_training():
    fused = torch.rand(1, 3, 16, 16, requires_grad=True)
    total, _ = FusionLoss()(fused, torch.rand(1, 1, 16, 16), torch.rand(1, 3, 16, 16))
    total.backward()
    assert fused.grad is not None and float(fused.grad.abs().sum()) > 0
