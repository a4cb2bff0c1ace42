"""The TeRF fusion network (paper eq. 2, section 2.2) as one configurable module.

Layout (both configurations):

    concat(ir, vi) -> feature extraction (conv + PReLU, conv, conv + PReLU)
      -> residual dense blocks -> global feature fusion (1x1, 3x3, 3x3, PReLU)
      -> transformer refinement (channel attention), added to the extraction features
      -> feature integration with a pixel shuffle -> RGB

``full`` is the published configuration (1.765 M parameters): every stage runs at the input
resolution, the integration goes *up* 2x with a pixel shuffle and back down with a stride-2
convolution, and the transformer's feed-forward uses a full 3x3 convolution.

``lite`` keeps the same stages but rearranges the two parts that dominate the cost on a CPU:
the body runs at half resolution (a pixel *unshuffle* in front of the extraction), so the
integration's pixel shuffle returns to the input resolution instead of going to twice it; a
small full-resolution head sees the sources again so fine detail is not lost; the dense blocks
are shallower and narrower and the feed-forward convolution is depthwise (as in Restormer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class FusionConfig:
    """Hyper-parameters of a fusion network; stored in every checkpoint."""

    name: str
    features: int = 64
    dense_blocks: int = 3
    dense_layers: int = 6
    growth: int = 32
    transformer_blocks: int = 2
    ffn_expansion: float = 2.66
    ffn_depthwise: bool = False
    half_resolution: bool = False
    head_features: int = 16
    head_layers: int = 2  # 3x3 convolutions of the full-resolution head (half-resolution layout)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def multiple(self) -> int:
        """Input sides are padded to a multiple of this (2 for both layouts)."""
        return 2


FULL = FusionConfig(name="full")
LITE = FusionConfig(
    name="lite",
    features=16,
    dense_blocks=2,
    dense_layers=3,
    growth=8,
    transformer_blocks=1,
    ffn_depthwise=True,
    half_resolution=True,
    head_features=8,
)
#: ``lite`` with a wider, deeper full-resolution head (24 features, 4 convolutions), for
#: distillation from ``full`` (``terf-studio train --arch student --teacher full``): the head is
#: where fine detail is made. The shipped student grew from one with 16 features and 3
#: convolutions (``fusion.grow``, ``train --init``).
STUDENT = replace(LITE, name="student", head_features=24, head_layers=4)
CONFIGS: dict[str, FusionConfig] = {c.name: c for c in (FULL, LITE, STUDENT)}


def get_config(arch: str) -> FusionConfig:
    try:
        return CONFIGS[arch]
    except KeyError:
        from terf_studio.errors import TerfError

        raise TerfError(f"unknown architecture '{arch}': choose one of {', '.join(CONFIGS)}") from None


class DenseLayer(nn.Module):
    """3x3 conv + ReLU whose output is concatenated to its input."""

    def __init__(self, channels: int, growth: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, growth, 3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, F.relu(self.conv(x))), 1)


class ResidualDenseBlock(nn.Module):
    def __init__(self, channels: int, layers: int, growth: int) -> None:
        super().__init__()
        self.dense = nn.Sequential(*(DenseLayer(channels + i * growth, growth) for i in range(layers)))
        self.fuse = nn.Conv2d(channels + layers * growth, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(self.dense(x))


class ChannelLayerNorm(nn.Module):
    """Layer norm over the channels of every pixel, with weight and bias."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # F.layer_norm on a channels-last view is ~6x faster on a CPU than mean/var over dim 1.
        y = F.layer_norm(x.permute(0, 2, 3, 1), (x.shape[1],), self.weight, self.bias, 1e-5)
        return y.permute(0, 3, 1, 2)


class ChannelAttention(nn.Module):
    """Restormer-style transposed attention (one head): attention across channels, O(HW C^2)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.temperature = nn.Parameter(torch.ones(1, 1, 1))
        self.qkv = nn.Conv2d(channels, channels * 3, 1, bias=False)
        self.qkv_dw = nn.Conv2d(channels * 3, channels * 3, 3, padding=1, groups=channels * 3, bias=False)
        self.project = nn.Conv2d(channels, channels, 1, bias=False)

    def forward(self, x: torch.Tensor, attn: torch.Tensor | None = None) -> torch.Tensor:
        """``attn`` (B, C, C), when given, replaces the matrix computed from ``x`` (see
        :meth:`statistics`: a tile of an image uses the matrix of the whole image)."""
        b, c, h, w = x.shape
        q, k, v = self.qkv_dw(self.qkv(x)).flatten(2).chunk(3, dim=1)
        if attn is None:
            q = F.normalize(q, dim=-1)
            k = F.normalize(k, dim=-1)
            attn = (q @ k.transpose(-2, -1) * self.temperature).softmax(dim=-1)
        return self.project((attn.to(v.dtype) @ v).view(b, c, h, w))

    def statistics(self, x: torch.Tensor, rows: slice, cols: slice) -> tuple[torch.Tensor, ...]:
        """The sums behind the attention matrix over ``x[..., rows, cols]`` (float64): ``q k^T``,
        ``|q|^2`` and ``|k|^2`` per channel. Sums over the parts of an image add up to the whole."""
        q, k, _ = self.qkv_dw(self.qkv(x))[..., rows, cols].flatten(2).chunk(3, dim=1)
        return (q @ k.transpose(-2, -1)).double(), (q * q).sum(-1).double(), (k * k).sum(-1).double()

    def matrix(self, gram: torch.Tensor, q_sq: torch.Tensor, k_sq: torch.Tensor) -> torch.Tensor:
        """The attention matrix from summed :meth:`statistics` (as ``F.normalize`` + softmax)."""
        qn = q_sq.sqrt().clamp_min(1e-12)
        kn = k_sq.sqrt().clamp_min(1e-12)
        cos = gram / (qn[..., :, None] * kn[..., None, :])
        return (cos * self.temperature.double()).softmax(dim=-1).float()


class FeedForward(nn.Module):
    def __init__(self, channels: int, expansion: float, depthwise: bool) -> None:
        super().__init__()
        hidden = int(channels * expansion)
        self.project_in = nn.Conv2d(channels, hidden, 1, bias=False)
        self.conv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden if depthwise else 1, bias=False)
        self.act = nn.PReLU()
        self.project_out = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project_out(self.act(self.conv(self.project_in(x))))


class TransformerBlock(nn.Module):
    def __init__(self, channels: int, expansion: float, depthwise: bool) -> None:
        super().__init__()
        self.norm1 = ChannelLayerNorm(channels)
        self.attn = ChannelAttention(channels)
        self.norm2 = ChannelLayerNorm(channels)
        self.ffn = FeedForward(channels, expansion, depthwise)

    def forward(self, x: torch.Tensor, attn: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), attn)
        return x + self.ffn(self.norm2(x))

    def statistics(self, x: torch.Tensor, rows: slice, cols: slice) -> tuple[torch.Tensor, ...]:
        return self.attn.statistics(self.norm1(x), rows, cols)


class FusionNet(nn.Module):
    """F(ir, vi) -> fused RGB. Inputs (B,1,H,W) and (B,3,H,W) in [0, 1], H and W even."""

    def __init__(self, config: FusionConfig = FULL) -> None:
        super().__init__()
        self.config = config
        c = config.features
        in_ch = 4 * 4 if config.half_resolution else 4
        self.extract = nn.Sequential(
            nn.Conv2d(in_ch, c, 3, padding=1),
            nn.PReLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.Conv2d(c, c, 3, padding=1),
            nn.PReLU(),
        )
        self.dense_blocks = nn.ModuleList(
            ResidualDenseBlock(c, config.dense_layers, config.growth) for _ in range(config.dense_blocks)
        )
        self.global_fusion = nn.Sequential(
            nn.Conv2d(c * config.dense_blocks, c, 1),
            nn.Conv2d(c, c, 3, padding=1),
            nn.Conv2d(c, c, 3, padding=1),
            nn.PReLU(),
        )
        self.refine = nn.Sequential(
            *(TransformerBlock(c, config.ffn_expansion, config.ffn_depthwise) for _ in range(config.transformer_blocks))
        )
        if config.half_resolution:
            h = config.head_features
            self.integrate = nn.Sequential(nn.Conv2d(c, h * 4, 3, padding=1), nn.PixelShuffle(2))
            # The head sees the sources again at full resolution so fine detail survives.
            layers: list[nn.Module] = [nn.Conv2d(h + 4, h, 3, padding=1), nn.PReLU()]
            for _ in range(config.head_layers - 2):
                layers += [nn.Conv2d(h, h, 3, padding=1), nn.PReLU()]
            self.head: nn.Module = nn.Sequential(*layers, nn.Conv2d(h, 3, 3, padding=1))
        else:
            self.integrate = nn.Sequential(
                nn.Conv2d(c, c * 4, 3, padding=1),
                nn.PixelShuffle(2),
                nn.Conv2d(c, c, 2, stride=2),
                nn.Conv2d(c, c, 3, padding=1),
                nn.Conv2d(c, c, 1),
            )
            self.head = nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, ir: torch.Tensor, vi: torch.Tensor) -> torch.Tensor:
        g, context = self.encode(ir, vi)
        return self.decode(self.refine(g), context)

    # The forward pass in three parts, so that it can run in tiles (terf_studio.fusion.tiled):
    # everything is local (convolutions) except the transformer blocks' channel attention, whose
    # matrix is a statistic of the whole image.
    @property
    def blocks(self) -> list[TransformerBlock]:
        return list(self.refine)  # type: ignore[arg-type]

    def encode(self, ir: torch.Tensor, vi: torch.Tensor) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Up to the transformer blocks: their input and what :meth:`decode` needs."""
        x = torch.cat((ir, vi), 1)
        stem = F.pixel_unshuffle(x, 2) if self.config.half_resolution else x
        f0 = self.extract(stem)
        feats = []
        f = f0
        for block in self.dense_blocks:
            f = block(f)
            feats.append(f)
        return self.global_fusion(torch.cat(feats, 1)), (x, f0)

    def decode(self, refined: torch.Tensor, context: tuple[torch.Tensor, ...]) -> torch.Tensor:
        x, f0 = context
        up = self.integrate(refined + f0)
        if self.config.half_resolution:
            up = torch.cat((up, x), 1)
        return self.head(up)


def build_network(arch: str | FusionConfig) -> FusionNet:
    config = arch if isinstance(arch, FusionConfig) else get_config(arch)
    return FusionNet(config)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
