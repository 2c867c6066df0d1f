"""Table 1 and the benchmark figure (plus the improved baselines): figures/benchmarks.{json,png,md}.

    python scripts/benchmarks.py                      # 4 models x 2 datasets x 10 seeds, the paper's harness
    python scripts/benchmarks.py --quick --out /tmp/b  # tiny steps and seeds (the end-to-end test)
    python scripts/benchmarks.py --seeds 20 --no-modern --models cnn gru
    python scripts/benchmarks.py --resume --improved cnn mlp  # add cells/rows to an existing results file
    python scripts/benchmarks.py --redraw             # figure and table again from figures/benchmarks.json
    python scripts/benchmarks.py --search             # the validation-only search behind the improved baselines

Every field of ``BenchmarksConfig`` is a flag (``--total-steps``, ``--val-seed``, ...).
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from mnist1d_jax.backend import main_on_all_cores
from mnist1d_jax.report.results import provenance, read_json, write_json
from mnist1d_jax.studies import benchmarks, improved


def config_parser(cls, parser: argparse.ArgumentParser) -> None:
    """One flag per dataclass field: tuples take several values, booleans get --x / --no-x."""
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif str(f.type).startswith("tuple"):
            parser.add_argument(flag, nargs="*", default=None)
        else:
            parser.add_argument(flag, type=type(f.default), default=None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("figures"))
    parser.add_argument("--quick", action="store_true", help="tiny steps and seeds (a smoke test)")
    parser.add_argument("--redraw", action="store_true", help="only redraw from <out>/benchmarks.json")
    parser.add_argument("--search", action="store_true",
                        help="run the validation-only search for the improved baselines")
    parser.add_argument("--candidates", nargs="*", default=None,
                        help="with --search: only these candidates of studies/improved.py (default: all)")
    parser.add_argument("--search-seeds", type=int, default=2, help="with --search: seeds per grid point")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--resume", action="store_true",
                        help="keep the cells already in <out>/benchmarks.json (same config) and add the rest")
    config_parser(benchmarks.BenchmarksConfig, parser)
    args = parser.parse_args(argv)

    if args.redraw:  # figure and table from the JSON alone
        paths = benchmarks.write(read_json(args.out / "benchmarks.json"), args.out)
        print(paths["md"].read_text())
        return 0
    base = benchmarks.QUICK if args.quick else benchmarks.BenchmarksConfig()
    overrides = {f.name: (tuple(getattr(args, f.name)) if isinstance(f.default, tuple) else getattr(args, f.name))
                 for f in dataclasses.fields(base) if getattr(args, f.name) is not None}
    config = dataclasses.replace(base, **overrides)

    if args.search:
        data = benchmarks.prepare_data(benchmarks.load_dataset(), config.val_fraction, config.val_seed)
        t0 = time.perf_counter()
        steps = dict(total_steps=config.improved_steps, eval_every=min(config.eval_every, config.improved_steps))
        rows = {}
        for kind in config.improved:
            cands = [c for c in improved.CANDIDATES[kind] if args.candidates is None or c[0] in args.candidates]
            if not cands:
                continue
            rows[kind] = improved.search(kind, data, seeds=args.search_seeds, candidates=cands,
                                         base=dataclasses.replace(improved.SEARCH, **steps),
                                         progress=lambda name, r: print(f"  searched {name}: {r}", flush=True))
        search_path = args.out / "benchmarks_search.json"
        if search_path.exists():  # keep the rows of candidates not searched this time
            old = read_json(search_path)
            for kind, old_rows in old.get("rows", {}).items():
                fresh = {r["candidate"] for r in rows.get(kind, [])}
                merged = rows.get(kind, []) + [r for r in old_rows if r["candidate"] not in fresh]
                rows[kind] = sorted(merged, key=lambda r: -r["val_acc_mean"])
        path = write_json(search_path, {"rows": rows, "seconds": time.perf_counter() - t0,
                                        "provenance": provenance()})
        for kind, r in rows.items():
            print(kind, "best on validation:", r[0])
        print("wrote", path)
        return 0

    previous = None
    if args.resume and (args.out / "benchmarks.json").exists():
        previous = read_json(args.out / "benchmarks.json")
    t0 = time.perf_counter()
    results = benchmarks.run(config, progress=not args.no_progress, previous=previous,
                             checkpoint=lambda r: benchmarks.write(r, args.out))
    # The study's runtime is the sum over its cells and improved rows, so a resumed run still reports all of it.
    parts = [*results["cells"].values(), *results["improved"].values()]
    results["seconds"] = sum(part.get("seconds", 0.0) for part in parts)
    results["seconds_this_call"] = time.perf_counter() - t0
    paths = benchmarks.write(results, args.out)
    print(paths["md"].read_text())
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {results['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
