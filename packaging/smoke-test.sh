#!/usr/bin/env bash
# Smoke test of the built desktop bundle (packaging/build-app.sh) in a fresh temporary folder:
# --version, doctor, fuse, segment (a mask), edit with that mask (+ a project), export of the
# project, the editor offscreen (--run, --screenshot, --exit-when-idle), and the editor started
# with no arguments. Uses only the bundled sample pair (resources/samples/), so it needs no
# ../shared data. `parse --llm auto` loads the bundled Gemma model through llama.cpp. Every command
# must exit 0 and every image must be a PNG of the pair's size.
#   packaging/smoke-test.sh [dist/terf-studio/terf-studio]
#   SMOKE_KEEP=1 packaging/smoke-test.sh     (keep the temporary folder to look at the outputs)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
app="$(realpath "${1:-$root/dist/terf-studio/terf-studio}")"
[ -x "$app" ] || { echo "error: no bundle at $app: run packaging/build-app.sh first" >&2; exit 2; }
vis="$root/resources/samples/night-street-vi.png"
ir="$root/resources/samples/night-street-ir.png"

work="$(mktemp -d "${TMPDIR:-/tmp}/terf-smoke-XXXXXX")"
if [ -z "${SMOKE_KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "outputs kept in $work"; fi
cd "$work"
# A fresh user: no settings, no model folder, no recent files (and no source tree on the path).
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_DATA_HOME="$work/home/.local/share"
export XDG_STATE_HOME="$work/home/.local/state" XDG_CACHE_HOME="$work/home/.cache"
unset PYTHONPATH VIRTUAL_ENV
mkdir -p "$HOME"
cp "$vis" vis.png
cp "$ir" ir.png

failures=0
step() {  # step NAME COMMAND...: run it, print its time and exit status
    local name="$1" start end rc
    shift
    start=$(date +%s.%N)
    set +e
    "$@" > "$name.log" 2>&1
    rc=$?
    set -e
    end=$(date +%s.%N)
    printf '%-10s rc=%d  %6.2f s\n' "$name" "$rc" "$(echo "$end - $start" | bc)"
    if [ "$rc" -ne 0 ]; then
        failures=$((failures + 1))
        sed 's/^/    | /' "$name.log" | tail -20
    fi
}
png_size() {  # the width x height of a PNG from its IHDR chunk, or nothing when it is not a PNG
    local f="$1"
    [ -s "$f" ] || return 0
    [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || return 0
    printf '%dx%d' "0x$(od -An -tx1 -j16 -N4 "$f" | tr -d ' \n')" "0x$(od -An -tx1 -j20 -N4 "$f" | tr -d ' \n')"
}
check_png() {  # check_png FILE [WxH]
    local got
    got="$(png_size "$1")"
    if [ -z "$got" ] || { [ -n "${2:-}" ] && [ "$got" != "$2" ]; }; then
        echo "FAIL: $1 is not a PNG${2:+ of $2} (got '${got:-nothing}')"
        failures=$((failures + 1))
    else
        echo "ok: $1 ($got, $(stat -c %s "$1") bytes)"
    fi
}

echo "bundle: $app ($(du -sh "$(dirname "$app")" | cut -f1))"
step version "$app" --version
step doctor "$app" doctor
step fuse "$app" fuse vis.png ir.png -o fused.png
step parse "$app" parse "brighten the trees" --llm auto --json
step segment "$app" segment vis.png ir.png --text person -o mask.png
step edit "$app" edit vis.png ir.png -c "blur the person" --mask mask.png -o edited.png --save-project edit.terf
step export "$app" export edit.terf -o exported.png
step gui env QT_QPA_PLATFORM=offscreen "$app" gui vis.png ir.png --run "make the person lean towards infrared" \
    --screenshot window.png --exit-when-idle --size 1200x760
# No arguments: the editor opens and keeps running until it is closed (timeout stops it: 124).
set +e
QT_QPA_PLATFORM=offscreen timeout 25 "$app" > no-args.log 2>&1
rc=$?
set -e
if [ "$rc" -eq 124 ] && ! grep -qi "error\|traceback" no-args.log; then
    echo "no-args    the editor started and was running after 25 s"
else
    echo "FAIL: with no arguments the bundle exited with $rc:"
    sed 's/^/    | /' no-args.log | tail -20
    failures=$((failures + 1))
fi

cat version.log
if grep -q '"parser": "rules+llm"' parse.log; then
    echo "ok: parse used the local LLM (llama.cpp)"
else
    echo "FAIL: parse did not use the local LLM:"; tail -3 parse.log | cut -c1-300
    failures=$((failures + 1))
fi
grep -i "fuse\|models\|missing\|device" doctor.log | head -12 || true
check_png fused.png 640x480
check_png mask.png 640x480
check_png edited.png 640x480
check_png exported.png 640x480
check_png window.png
[ -s edit.terf ] && echo "ok: edit.terf ($(stat -c %s edit.terf) bytes)" || { echo "FAIL: no edit.terf"; failures=$((failures + 1)); }
if [ "$failures" -eq 0 ]; then
    echo "smoke test passed"
else
    echo "smoke test FAILED: $failures problem(s)"
    exit 1
fi
