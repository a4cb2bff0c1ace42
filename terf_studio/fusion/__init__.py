"""The fusion network (paper eq. 2), its losses, training and inference."""

from terf_studio.fusion.inference import Fuser, load_fuser, run_network
from terf_studio.fusion.network import CONFIGS, FULL, LITE, FusionConfig, FusionNet, build_network, count_parameters

__all__ = [
    "CONFIGS",
    "FULL",
    "LITE",
    "Fuser",
    "FusionConfig",
    "FusionNet",
    "build_network",
    "count_parameters",
    "load_fuser",
    "run_network",
]
