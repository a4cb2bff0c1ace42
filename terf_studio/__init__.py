"""TeRF Studio: text-driven, region-aware visible + infrared image fusion."""

__version__ = "0.1.0"
