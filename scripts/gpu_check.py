"""The check to run first on a machine with an accelerator: the test suite, then the paper's studies with the
paper's run counts timed one by one within a time budget, written as a table for the README.

    python scripts/gpu_check.py                      # suite + studies, about 8 minutes of studies
    python scripts/gpu_check.py --budget 300 --no-suite
    python scripts/gpu_check.py --quick              # a tiny slice on any machine (a smoke test of the script)

Writes ``OUT/gpu_check.md`` (the table) and ``OUT/gpu_check.json`` (rows, devices, versions); the studies'
records and figures go to ``OUT/studies`` (a rerun resumes what a cut-off study had finished). Studies run
cheapest first (by their runtime on a 2-core CPU), each in its own process with the time left as its limit; a
study that does not fit is reported as such, never silently dropped. Exit status 0 when the suite passed (or was
skipped) and no study failed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

# the paper's studies, cheapest first (minutes on this project's 2-core CPU, paper run counts)
ORDER = ("dataset", "classwise_errors", "metalearn_lr", "tsne", "ssl", "benchmarks", "pooling",
         "metalearn_activation", "double_descent", "lottery")


def _run(argv: list[str], limit: float, log: Path) -> tuple[str, float]:
    """(status, seconds) of one command, its output in ``log``; status ok / failed (exit N) / timed out."""
    start = time.perf_counter()
    with open(log, "w") as f:
        try:
            code = subprocess.run(argv, stdout=f, stderr=subprocess.STDOUT, timeout=max(limit, 1)).returncode
        except subprocess.TimeoutExpired:
            return "timed out", time.perf_counter() - start
    return ("ok" if code == 0 else f"failed (exit {code})"), time.perf_counter() - start


def _devices() -> str:
    out = subprocess.run([sys.executable, "-c", "import jax; d = jax.devices(); "
                          "print(f'{jax.default_backend()}: {len(d)} x {d[0].device_kind}')"],
                         capture_output=True, text=True)
    return out.stdout.strip() or f"unknown ({out.stderr.strip()[-200:]})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("figures/gpu_check"))
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the studies (default 480)")
    parser.add_argument("--no-suite", action="store_true", help="skip the test suite")
    parser.add_argument("--quick", action="store_true", help="studies with --quick and two test files only")
    parser.add_argument("--studies", nargs="+", choices=ORDER, default=list(ORDER))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows, failed = [], False
    device = _devices()
    if not args.no_suite:
        tests = ["tests/data/test_config.py", "tests/core/test_step.py"] if args.quick else []
        status, seconds = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], 3600,
                               args.out / "suite.log")
        tail = (args.out / "suite.log").read_text().strip().splitlines()[-1:] or [""]
        rows.append({"what": "test suite" + (" (two files)" if args.quick else ""), "status": status,
                     "seconds": round(seconds, 1), "note": tail[0]})
        failed |= status != "ok"
    deadline = time.monotonic() + args.budget
    for name in [s for s in ORDER if s in args.studies]:
        left = deadline - time.monotonic()
        if left < 5:
            rows.append({"what": name, "status": "not run (budget spent)", "seconds": None, "note": ""})
            continue
        mode = ["--quick"] if args.quick else ["--paper-seeds"]
        status, seconds = _run([sys.executable, "-m", "mnist1d_jax.cli", name.replace("_", "-"), *mode, "--out",
                                str(args.out / "studies"), "--no-progress"], left, args.out / f"{name}.log")
        rows.append({"what": name, "status": status, "seconds": round(seconds, 1),
                     "note": "paper run counts" if not args.quick else "--quick"})
        failed |= status.startswith("failed")
    lines = [f"Device: {device}. Studies budget {args.budget:.0f} s.", "", "| what | status | seconds | note |",
             "|---|---|---:|---|"]
    lines += [f"| {r['what']} | {r['status']} | {'' if r['seconds'] is None else r['seconds']} | {r['note']} |"
              for r in rows]
    (args.out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    (args.out / "gpu_check.json").write_text(json.dumps({"device": device, "budget_s": args.budget,
                                                          "quick": args.quick, "rows": rows}, indent=1) + "\n")
    print("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
