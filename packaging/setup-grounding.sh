#!/usr/bin/env bash
# Set up TeRF Studio with the GroundingDINO + Segment Anything + MobileSAM stack (the
# [grounding] extra) in its own virtual environment (default: .venv-grounding in the source tree).
#   packaging/setup-grounding.sh
#   TERF_VENV=/path packaging/setup-grounding.sh
# It installs torch 2.14.1 + torchvision 0.29.1 (the pair whose torchvision imports here; a CUDA
# build of several GB), the app with its test tools and the [grounding] extra, then
# groundingdino-py 0.4.0 without its dependencies (its metadata would pull opencv-python over the
# app's opencv-python-headless; the model code needs only what the extra lists).
# llama-cpp-python is built from source like in setup.sh; pip reuses a wheel it built before.
# Safe to run again.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TERF_VENV:-$root/.venv-grounding}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating virtual environment $venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
pip=("$venv/bin/python" -m pip install --quiet)

export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
echo "installing terf-studio with the [grounding] extra (torch 2.14.1, torchvision 0.29.1, transformers, SAM, MobileSAM)"
"${pip[@]}" -e "$root[dev,grounding]"
echo "installing groundingdino-py 0.4.0 (without its dependencies)"
"${pip[@]}" --no-deps "groundingdino-py==0.4.0"
"$venv/bin/python" - <<'PY'
from terf_studio.regions.grounded.deps import import_quietly, missing_packages
missing = missing_packages("all")
if missing:
    raise SystemExit(f"the grounding stack is incomplete: {', '.join(missing)} missing")
versions = {}
for module in ("torch", "torchvision", "transformers", "groundingdino.models", "segment_anything", "mobile_sam"):
    versions[module] = getattr(import_quietly(module), "__version__", "")
print("grounding stack ready: " + ", ".join(f"{m} {v}".strip() for m, v in versions.items()))
PY
