"""Speed benchmarks: ours beside the original's, measured in one run on this machine.

    python scripts/speed.py                 # every section
    python scripts/speed.py --only data     # one section
    python scripts/speed.py --quick         # small sizes (a smoke test, not a benchmark)

Prints a Markdown table per section and writes all rows with the provenance to figures/speed.json.
Sections live in scripts/speed_<name>.py and expose ``run(quick: bool) -> list[dict]``; each row has
``what``, ``ours_s``, ``reference_s`` (or None), ``ratio`` (reference / ours, or None) and ``note``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mnist1d_jax import DatasetConfig, make_dataset  # noqa: E402
from mnist1d_jax.backend import main_on_all_cores  # noqa: E402
from mnist1d_jax.report.results import provenance, read_json, write_json  # noqa: E402

SECTIONS = ("data", "train", "meta", "floors", "redesign")


def _timed(fn, repeats: int = 1):
    """(best wall-clock seconds over `repeats`, last result)."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _reference_dataset(config: DatasetConfig):
    """The original package's generator (the `mnist1d` pip package), or None if it is not installed."""
    try:
        from mnist1d.data import get_dataset_args
        from mnist1d.data import make_dataset as reference_make_dataset
        from mnist1d.utils import ObjectView
    except ImportError:
        return None
    state = np.random.get_state()
    try:
        return reference_make_dataset(ObjectView(get_dataset_args(as_dict=True) | config.to_dict()))
    finally:
        np.random.set_state(state)


def run_data(quick: bool) -> list[dict]:
    """The generator: the original package vs ours at 5,000 and 50,000 examples, and ours at 1,000,000."""
    rows = []
    make_dataset(DatasetConfig(num_samples=1000))  # warm up imports and tables
    sizes = (5_000,) if quick else (5_000, 50_000)
    for n in sizes:
        config = DatasetConfig(num_samples=n)
        ours_s, ours = _timed(lambda config=config: make_dataset(config), repeats=5)
        ref_s, ref = _timed(lambda config=config: _reference_dataset(config))
        if ref is None:
            rows.append({"what": f"generate {n:,} examples", "ours_s": ours_s, "reference_s": None,
                         "ratio": None, "note": "reference package `mnist1d` not installed"})
            continue
        diff = max(float(np.abs(getattr(ours, k) - ref[k]).max()) for k in ("x", "x_test", "t"))
        labels = bool(np.array_equal(ours.y, ref["y"]) and np.array_equal(ours.y_test, ref["y_test"]))
        note = f"labels equal: {labels}; max abs diff of x, x_test, t: {diff:.1e}"
        rows.append({"what": f"generate {n:,} examples", "ours_s": ours_s, "reference_s": ref_s,
                     "ratio": ref_s / ours_s, "note": note})
    big = 100_000 if quick else 1_000_000
    ours_s, data = _timed(lambda: make_dataset(DatasetConfig(num_samples=big)))
    rows.append({"what": f"generate {big:,} examples", "ours_s": ours_s, "reference_s": None, "ratio": None,
                 "note": f"{big / ours_s:,.0f} examples/s; x is {data.x.shape}"})
    return rows


def _section(name: str):
    if name == "data":
        return run_data
    # by path, not by import_module: speed_train drops scripts/ from sys.path (its ssl.py shadows the stdlib's)
    spec = importlib.util.spec_from_file_location(f"speed_{name}", Path(__file__).resolve().parent / f"speed_{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run


def _fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def print_table(name: str, rows: list[dict]) -> None:
    print(f"\n### {name}\n")
    print("| what | ours (s) | reference (s) | speed-up | note |")
    print("|---|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['what']} | {_fmt(r['ours_s'], '.3f')} | {_fmt(r['reference_s'], '.2f')} | "
              f"{_fmt(r['ratio'], '.1f')}{'' if r['ratio'] is None else 'x'} | {r.get('note', '')} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the script, measures little")
    parser.add_argument("--out", type=Path, default=Path("figures/speed.json"))
    args = parser.parse_args(argv)
    results = read_json(args.out).get("sections", {}) if args.out.exists() and not args.quick else {}
    for name in args.only or SECTIONS:
        try:
            rows = _section(name)(args.quick)
        except ModuleNotFoundError as err:
            print(f"\n### {name}\n\nskipped: {err}")
            continue
        print_table(name, rows)
        results[name] = rows
    write_json(args.out, {"quick": args.quick, "sections": results, "provenance": provenance()})
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
