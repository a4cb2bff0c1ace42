#!/usr/bin/env bash
# Set up TeRF Studio in a virtual environment (default: .venv in the source tree).
#   packaging/setup.sh            -> .venv with the app, the test tools and Ray (batch --executor ray)
#   TERF_VENV=/path packaging/setup.sh
# A torch already present in the environment (e.g. a CUDA build) is kept; otherwise the CPU
# build torch==2.13.0 is installed first. Safe to run again: it only installs what is missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TERF_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating virtual environment $venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
pip=("$venv/bin/python" -m pip install --quiet)

if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "installing torch (CPU build)"
    "${pip[@]}" "torch==2.13.0"
fi
echo "installing terf-studio and its dependencies (the first time, building llama-cpp-python takes ~11 minutes)"
# A portable llama.cpp build: no -march=native, so the result runs on other CPUs too.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
"${pip[@]}" -e "$root[dev,ray]"
"$venv/bin/terf-studio" --version
