"""Fast engines: networks trained once, offline, so that an edit is one or a few forward passes.

Each task (``terf_studio.tuning.specs``) has an *exact* engine, the paper's test-time
fine-tuning, and where one exists a *fast* engine from this package:

- :mod:`.conditioned`: inclination towards infrared / visible as a per-pixel condition of the
  fusion network (FiLM layers fed a lambda map; loss-conditional training);
- :mod:`.retinex`: the paper's three Retinex units trained over many fused images, so the
  decomposition of brighten / darken is one forward pass (cached per image);
- :mod:`.denoiser`: a small noise-level-conditioned denoiser (FFDNet-style) with a noise
  estimate from the image.

:mod:`.weights` loads and saves their files (``models/fast-*.pt``); :mod:`.training` trains them.
"""
