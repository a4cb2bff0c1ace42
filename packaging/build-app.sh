#!/usr/bin/env bash
# Build the TeRF Studio desktop bundle (PyInstaller, one folder) into dist/terf-studio/.
#   packaging/setup.sh && packaging/build-app.sh
#   TERF_VENV=/path packaging/build-app.sh      (another virtual environment made by setup.sh)
# Installs PyInstaller into the environment when it is missing, builds from
# packaging/terf-studio.spec (work files in build/), then checks that the bundle starts.
# dist/terf-studio/terf-studio runs every command; with no arguments it opens the editor.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${TERF_VENV:-$root/.venv}"
python="$venv/bin/python"
if [ ! -x "$python" ]; then
    echo "error: no virtual environment at $venv: run packaging/setup.sh first" >&2
    exit 2
fi
if ! "$python" -c "import PyInstaller" 2>/dev/null; then
    echo "installing PyInstaller"
    "$python" -m pip install --quiet "pyinstaller>=6.10,<7"
fi
cd "$root"
start=$(date +%s)
"$python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$root/dist" --workpath "$root/build/pyinstaller" packaging/terf-studio.spec
app="$root/dist/terf-studio/terf-studio"
"$app" --version
echo "built $app in $(( $(date +%s) - start )) s; bundle $(du -sh "$root/dist/terf-studio" | cut -f1)"
echo "check it with packaging/smoke-test.sh"
