"""The redesign's speed check (the ``redesign`` section of ``scripts/speed.py``): every study's hot path under the
package as it was before the redesign (a git worktree of ``OLD_REV``) and as it is now, side by side in one
run, alternating old, new, old, new, each in a fresh process (``speed_redesign_driver.py``), best of two.

A row's ``ratio`` is old / new seconds: above 1 the new code is faster; the redesign's bound is new <= 1.1x old,
i.e. ratio >= 0.91.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

OLD_REV = os.environ.get("MNIST1D_JAX_OLD_REV", "785ff4f")  # main before the redesign (issue 15)
STUDIES = ("dataset", "benchmarks", "lottery", "double_descent", "metalearn_lr", "metalearn_activation", "pooling",
           "ssl", "tsne", "classwise_errors")
_HERE = Path(__file__).resolve().parent
ROOT = _HERE.parent


def old_tree(rev: str = OLD_REV) -> Path:
    """A worktree of ``rev`` (made once, in the temporary folder)."""
    path = Path(tempfile.gettempdir()) / f"mnist1d-jax-{rev}"
    if not (path / "mnist1d_jax").exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "--force", str(path), rev],
                       check=True, capture_output=True)
    return path


def _time(version: str, study: str, quick: bool, old: Path) -> float:
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)  # the test suite's lowered optimisation level must not reach a benchmark
    if version == "old":
        env["PYTHONPATH"] = str(old)
    out = subprocess.run([sys.executable, str(_HERE / "speed_redesign_driver.py"), version, study, str(int(quick))],
                         env=env, capture_output=True, text=True, cwd=tempfile.gettempdir())
    if out.returncode != 0:
        raise RuntimeError(f"{version} {study}: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def run(quick: bool = False, studies=STUDIES) -> list[dict]:
    old = old_tree()
    rows = []
    for study in studies:
        times = {"old": [], "new": []}
        for _ in range(1 if quick else 2):
            for version in ("old", "new"):
                times[version].append(_time(version, study, quick, old))
        o, n = min(times["old"]), min(times["new"])
        rows.append({"what": f"{study}: representative slice, old (before the redesign, {OLD_REV}) vs new",
                     "ours_s": n, "reference_s": o, "ratio": o / n,
                     "note": f"old {', '.join(f'{t:.1f}' for t in times['old'])} s; new "
                             f"{', '.join(f'{t:.1f}' for t in times['new'])} s; new/old {n / o:.2f}"})
    return rows
