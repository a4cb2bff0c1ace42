"""Benchmarks (``terf-studio bench ...``): one module per benchmark. Entry points only: nothing in
the core imports this package."""


def row_from_fresh_process(module: str, args: list[str], what: str) -> dict:
    """Run ``python -m MODULE ARGS...`` in a fresh process (so its memory is its own) and return
    the JSON object it prints last; a failure is a one-line error naming ``what``."""
    import json
    import subprocess
    import sys

    from terf_studio.errors import TerfError

    done = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise TerfError(f"benchmark of '{what}' failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])
