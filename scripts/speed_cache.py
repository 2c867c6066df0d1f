"""The persistent compilation cache, cold vs warm: each command run with the cache off, then twice on a new cache
folder (the first run fills it, the second reads it), one after the other in one run of this script.

    python scripts/speed.py --only cache            # the CLI commands (about 8 minutes)
    MNIST1D_JAX_SPEED_CACHE_SUITE=1 python scripts/speed.py --only cache   # also the test suite (+ ~15 min)
    python scripts/speed.py --only cache --quick    # one small command (a smoke test of the script)

Rows: ``ours_s`` is the warm run, ``reference_s`` the cold run (so ``ratio`` is cold / warm); the note gives the
run with the cache off. The test suite uses its own cache folder (``tests/conftest.py``), emptied before its
cold run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "mnist1d-jax train --model cnn --seeds 1": ["train", "--model", "cnn", "--seeds", "1"],
    "mnist1d-jax metalearn-activation --quick": ["metalearn-activation", "--quick", "--out", "{out}"],
    "mnist1d-jax reproduce --quick": ["reproduce", "--quick", "--out", "{out}"],
}
QUICK = {"mnist1d-jax metalearn-lr --quick": ["metalearn-lr", "--quick", "--no-memory", "--out", "{out}"]}


def _timed(argv: list[str], env: dict, cwd: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")
    return seconds


def _command(args: list[str], cache: str, work: Path, run: str) -> float:
    out = work / run
    argv = [sys.executable, "-m", "mnist1d_jax.cli", *(a.replace("{out}", str(out)) for a in args)]
    return _timed(argv, {**os.environ, "MNIST1D_JAX_COMPILE_CACHE": cache}, work)


def _suite_folder() -> Path:
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"mnist1d-jax-test-compile-cache-{uid}"


def run(quick: bool = False) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, args in (QUICK if quick else COMMANDS).items():
            off = _command(args, "off", work, "off")
            cache = str(work / f"xla-{len(rows)}")
            cold = _command(args, cache, work, "cold")
            warm = _command(args, cache, work, "warm")
            rows.append({"what": label, "ours_s": warm, "reference_s": cold, "ratio": cold / warm,
                         "note": f"warm vs cold; cache off: {off:.1f} s"})
    if os.environ.get("MNIST1D_JAX_SPEED_CACHE_SUITE") and not quick:
        shutil.rmtree(_suite_folder(), ignore_errors=True)
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        cold = _timed(argv, dict(os.environ), ROOT)
        warm = _timed(argv, dict(os.environ), ROOT)
        rows.append({"what": "the test suite (python -m pytest -q)", "ours_s": warm, "reference_s": cold,
                     "ratio": cold / warm, "note": "warm vs cold; its own cache folder"})
    return rows


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(r)
