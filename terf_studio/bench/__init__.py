"""Benchmarks (``terf-studio bench ...``): one module per benchmark. Entry points only: nothing in
the core imports this package."""
