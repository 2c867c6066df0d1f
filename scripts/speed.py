"""Speed benchmarks: ours beside the original's, measured in one run on this machine.

    python scripts/speed.py                 # every section
    python scripts/speed.py --only data     # one section
    python scripts/speed.py --quick         # small sizes (a smoke test, not a benchmark)
    python scripts/speed.py --only stream --stream-samples 1000000   # write_dataset of 1e6 examples

Prints a Markdown table per section and writes all rows with the provenance to figures/speed.json.
Sections live in scripts/speed_<name>.py and expose ``run(quick: bool) -> list[dict]``; each row has
``what``, ``ours_s``, ``reference_s`` (or None), ``ratio`` (reference / ours, or None) and ``note``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mnist1d_jax import DatasetConfig, make_dataset  # noqa: E402
from mnist1d_jax.runtime.backend import main_on_all_cores  # noqa: E402
from mnist1d_jax.runtime.results import provenance, read_json, write_json  # noqa: E402

SECTIONS = ("data", "train", "meta", "pooling", "cache", "floors", "stream")
STREAM_SAMPLES = 40_000_000  # the researchers' size: one seed's dataset, to be written in <= 10 minutes


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


# The stream section's measurement, in a fresh process: its peak RSS is then write_dataset's alone, not that of
# the sections before it. A thread samples /proc/self/status, because ru_maxrss also counts the pages of the
# memory-mapped files (page cache the kernel can reclaim): the anonymous peak is what must fit in memory.
_STREAM_CHILD = """
import json, resource, sys, threading, time
from pathlib import Path
from mnist1d_jax import DatasetConfig
from mnist1d_jax.data.stream import read_manifest, write_dataset

n, folder = int(sys.argv[1]), Path(sys.argv[2])
peak, done = {"RssAnon": 0, "RssFile": 0}, threading.Event()

def sample():
    while not done.wait(0.01):
        with open("/proc/self/status") as status:
            for line in status:
                key = line.split(":")[0]
                if key in peak:
                    peak[key] = max(peak[key], 1024 * int(line.split()[1]))

if Path("/proc/self/status").exists():
    threading.Thread(target=sample, daemon=True).start()
write_dataset(DatasetConfig(num_samples=1000), folder / "warm-up")  # imports and cached tables, not timed
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime
start = time.perf_counter()
out = write_dataset(DatasetConfig(num_samples=n), folder / "stream", dtype="float16")
seconds = time.perf_counter() - start
done.set()
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": seconds, "passes": read_manifest(out)["seconds"],
                  "bytes": sum(p.stat().st_size for p in out.iterdir()),
                  "cpu_s": usage.ru_utime + usage.ru_stime - cpu, "maxrss": 1024 * usage.ru_maxrss,
                  "anon": peak["RssAnon"] or None, "file": peak["RssFile"] or None}))
"""


def run_stream(quick: bool, samples: int | None = None, folder: Path | None = None) -> list[dict]:
    """`write_dataset` of `samples` examples (default 4e7; 20,000 with --quick) to float16 .npy files in a
    temporary folder under `folder` (deleted afterwards): seconds, examples/s, GB written, peak RSS."""
    n = samples or (20_000 if quick else STREAM_SAMPLES)
    parent = Path(folder or ".")
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".speed-stream.", dir=parent))
    try:
        proc = subprocess.run([sys.executable, "-c", _STREAM_CHILD, str(n), str(work)], capture_output=True,
                              text=True, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if proc.returncode:
        raise RuntimeError(f"the stream benchmark failed: {proc.stderr.strip()[-2000:]}")
    m = json.loads(proc.stdout.strip().splitlines()[-1])
    seconds, gb = m["seconds"], m["bytes"] / 1e9
    rate = n / seconds
    anon = "n/a" if m["anon"] is None else f"{m['anon'] / 2**20:,.0f} MB"
    minutes = STREAM_SAMPLES / rate / 60
    return [
        {"what": f"write_dataset {n:,} examples, float16", "ours_s": seconds, "reference_s": None, "ratio": None,
         "note": f"{rate:,.0f} examples/s ({m['cpu_s'] / n * 1e6:.1f} CPU-us per example); {gb:.3g} GB written; "
                 f"peak RSS {m['maxrss'] / 2**30:.2f} GB, of it anonymous {anon} (the rest: mapped file pages); "
                 f"4e7 examples at this rate: {minutes:.1f} min",
         "examples_per_s": rate, "gb_written": gb, "peak_rss_gb": m["maxrss"] / 2**30,
         "peak_anon_gb": None if m["anon"] is None else m["anon"] / 2**30,
         "peak_file_gb": None if m["file"] is None else m["file"] / 2**30, "cpu_s": m["cpu_s"], "samples": n},
        {"what": "  pass 1: generate, raw float64 to a temporary file", "ours_s": m["passes"]["generate"],
         "reference_s": None, "ratio": None, "note": f"{n / m['passes']['generate']:,.0f} examples/s"},
        {"what": "  pass 2: permute, standardise, cast, write", "ours_s": m["passes"]["write"], "reference_s": None,
         "ratio": None, "note": f"{n / m['passes']['write']:,.0f} examples/s"},
    ]


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
    parser.add_argument("--stream-samples", type=int, default=None, metavar="N", help="examples of the stream "
                        f"section (default {STREAM_SAMPLES:,}; 20,000 with --quick)")
    parser.add_argument("--stream-dir", type=Path, default=None, help="where the stream section writes (and then "
                        "deletes) its files; it needs ~10 bytes per value free (default: the folder of --out)")
    args = parser.parse_args(argv)
    if args.stream_samples is not None and (args.stream_samples < 10 or args.stream_samples % 10):
        parser.error(f"--stream-samples {args.stream_samples}: must be a positive multiple of 10")
    earlier = read_json(args.out) if args.out.exists() and not args.quick else {}
    results = earlier.get("sections", {})
    # Each section keeps the provenance of the run that measured it (sections are rerun one at a time).
    section_provenance = earlier.get("section_provenance", {})
    for name in results:
        section_provenance.setdefault(name, earlier.get("provenance"))
    for name in args.only or SECTIONS:
        section = _section(name) if name != "stream" else functools.partial(
            run_stream, samples=args.stream_samples, folder=args.stream_dir or args.out.parent)
        try:
            rows = section(args.quick)
        except ModuleNotFoundError as err:
            print(f"\n### {name}\n\nskipped: {err}")
            continue
        print_table(name, rows)
        results[name] = rows
        section_provenance[name] = provenance()
    write_json(args.out, {"quick": args.quick, "sections": results, "provenance": provenance(),
                          "section_provenance": section_provenance})
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
