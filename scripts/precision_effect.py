"""The matmul precision policy's effect on Table 1: logistic, MLP, CNN and GRU under float32, tf32 and bf16.

    python scripts/precision_effect.py                       # 3 seeds per (model, precision), resumable
    python scripts/precision_effect.py --seeds 10 --models cnn gru
    python scripts/precision_effect.py --quick --out /tmp/q  # tiny runs: a smoke test of the script, no result

Protocol: the benchmarks study's Table-1 runs (``studies.benchmarks.table1_train_config``: Adam 1e-2, batch 100 in
the harness's fixed order, T = 6,000, evaluation every 250 steps, the default data, no validation split), seeds
``jax.random.split(jax.random.key(seed), S)`` with the study's seed: the same seeds and batches under every
precision, so a seed's difference between precisions is the precision's alone. Each (model, precision) cell is
one vmapped call of ``train_seeds`` with ``TrainConfig.precision`` set.

On a CPU, which ignores JAX's precision setting, tf32 and bf16 are emulated (``mnist1d_jax/precision.py``: the
operands of every forward product rounded, the backward products full float32, so the effect is slightly
understated); the emulation costs time, so the seconds measure this machine's emulation, not a speed-up.

Writes ``<out>/precision_effect.json`` after every cell (per model and precision: the best and final test
accuracy per seed, their mean and std in %, seconds; backend and provenance), resuming from the cells already
there with the same settings (``--fresh`` ignores them), and the table ``<out>/precision_effect.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import jax
import numpy as np

from mnist1d_jax.core.runs import TrainConfig, train_seeds
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.runtime.backend import main_on_all_cores, on_cpu
from mnist1d_jax.runtime.precision import JAX_NAMES, NAMES
from mnist1d_jax.runtime.results import atomic_write, mean_std, provenance, read_json, write_json
from mnist1d_jax.studies.benchmarks import BenchmarksConfig, table1_train_config

MODELS = ("logistic", "mlp", "cnn", "gru")
# The benchmarks study's Table-1 cell (BenchmarksConfig's defaults), and the quick mode's tiny version of it.
TABLE1 = table1_train_config(BenchmarksConfig())
QUICK = {"total_steps": 20, "eval_every": 10}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def run_cell(data, keys, model: str, precision: str, base: TrainConfig) -> dict:
    """One (model, precision) cell: ``train_seeds`` over ``keys``; accuracies per seed in %."""
    t0 = time.perf_counter()
    _, _, summary = train_seeds(keys, data, dataclasses.replace(base, model=model, precision=precision))
    best = np.asarray(summary["best_test_acc"], float)
    final = np.asarray(summary["final_test_acc"], float)
    return {"model": model, "precision": precision, "jax_setting": JAX_NAMES[precision],
            "best_test_acc": best.tolist(), "final_test_acc": final.tolist(),
            "best_mean": best.mean(), "best_std": best.std(), "final_mean": final.mean(), "final_std": final.std(),
            "seconds": time.perf_counter() - t0}


def markdown_table(record: dict) -> str:
    """Mean ± std over seeds per (model, precision), and the paired difference from float32 (same seeds)."""
    s = record["settings"]
    how = "emulated (operands rounded; XLA:CPU ignores the setting)" if record["emulated"] else "on the hardware"
    lines = [f"Test accuracy (%), mean ± std over {s['seeds']} seeds (the same under every precision); Table-1 "
             f"protocol: Adam {s['learning_rate']}, batch {s['batch_size']}, T = {s['total_steps']}, eval every "
             f"{s['eval_every']}, default data. Backend {record['backend']}: tf32 / bf16 {how}. "
             "Δ: the paired difference from float32 (per seed, then mean ± std).", "",
             "| model | precision | best over evals | final | Δ best | Δ final | seconds |",
             "|---|---|---|---|---|---|---:|"]
    cells = record["cells"]
    for c in cells.values():
        ref = cells.get(f"{c['model']}/float32")
        deltas = ["–", "–"]
        if ref is not None and c["precision"] != "float32":
            deltas = [mean_std(np.subtract(c[k], ref[k]), 2) for k in ("best_test_acc", "final_test_acc")]
        lines.append(f"| {c['model']} | {c['precision']} | {mean_std(c['best_test_acc'])} | "
                     f"{mean_std(c['final_test_acc'])} | {deltas[0]} | {deltas[1]} | {c['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=_positive_int, default=3, help="seeds per (model, precision) (default 3)")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="the Table-1 models")
    parser.add_argument("--precisions", nargs="+", choices=NAMES, default=list(NAMES), help="the settings")
    parser.add_argument("--quick", action="store_true", help=f"tiny runs ({QUICK}, 2 seeds): checks the script")
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for precision_effect.{json,md}")
    parser.add_argument("--fresh", action="store_true", help="ignore the cells of an earlier run")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from tqdm.auto import tqdm

    base = dataclasses.replace(TABLE1, **QUICK) if args.quick else TABLE1
    seeds = 2 if args.quick else args.seeds
    settings = {"seeds": seeds, "seed": 0, "quick": args.quick, **{k: getattr(base, k) for k in
                ("learning_rate", "batch_size", "total_steps", "eval_every", "protocol", "optimizer")}}
    json_path, md_path = args.out / "precision_effect.json", args.out / "precision_effect.md"
    earlier = read_json(json_path) if json_path.exists() and not args.fresh else {}
    cells = earlier.get("cells", {}) if earlier.get("settings") == settings else {}
    record = {"settings": settings, "backend": jax.default_backend(), "emulated": on_cpu(), "cells": cells,
              "note": "each cell ran under its own precision (cells[*].precision); provenance.devices."
                      "matmul_precision is the process's setting outside the cells"}

    data = prepare_data(make_dataset())
    keys = jax.random.split(jax.random.key(BenchmarksConfig().seed), seeds)
    todo = [(m, p) for m in args.models for p in args.precisions]
    for model, precision in tqdm(todo, desc="precision effect", unit="cell", disable=args.no_progress):
        key = f"{model}/{precision}"
        if key not in cells:
            cells[key] = run_cell(data, keys, model, precision, base)
            write_json(json_path, {**record, "provenance": provenance()})  # after every cell: resumable
    # Table order: models, then precisions, as asked (earlier cells of other models stay in the file).
    record["cells"] = {f"{m}/{p}": cells[f"{m}/{p}"] for m in args.models for p in args.precisions}
    record["cells"].update({k: v for k, v in cells.items() if k not in record["cells"]})
    write_json(json_path, {**record, "provenance": provenance()})
    text = markdown_table(record)
    atomic_write(md_path, lambda f: f.write(text.encode()))
    print(text)
    print(f"wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
