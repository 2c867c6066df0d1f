"""Speed of the pooling study against a plain PyTorch run of its protocol, side by side in one run.

    python scripts/speed.py --only pooling            # the paper's run counts (about 20 minutes)
    python scripts/speed.py --only pooling --quick    # two sizes, 41 steps (a smoke test of the script)

The paper's run counts: 6 training-set sizes x 5 variants, one seed, T = 6,000 (6,001 Adam steps), evaluation
every 100 steps. Rows, each timed once with nothing else running:

* ours: the whole study (``report.runner.run_study``: data, training, record, figures) with the compilation cache
  off, so every compile is counted; and the study's former structure, one program per (size, variant) with the
  whole training set evaluated at each point (``core.runs.train_seeds``), to show where the time went;
* the reference (``scripts/torch_reference.py``): the original notebook's loop in eager PyTorch, 30 runs one after
  another, evaluating the whole training and test sets every 100 steps; and the same loop measuring the training
  accuracy on the first 1,000 examples as ours does (the same work).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # scripts/ssl.py shadows the stdlib's

import jax  # noqa: E402

from mnist1d_jax.core.runs import train_seeds  # noqa: E402
from mnist1d_jax.data.generator import make_dataset  # noqa: E402
from mnist1d_jax.report.runner import run_study  # noqa: E402
from mnist1d_jax.studies import pooling  # noqa: E402

_spec = importlib.util.spec_from_file_location("torch_reference", _HERE / "torch_reference.py")
torch_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(torch_reference)


def _config(quick: bool) -> pooling.PoolingConfig:
    if quick:
        return pooling.PoolingConfig(sizes=(1000, 2000), seeds=1, total_steps=40, eval_every=20)
    return pooling.PoolingConfig(seeds=1)


def _ours_study(config) -> float:
    jax.clear_caches()  # the study's compiles are part of its cost (scripts/speed.py never enables the cache)
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_study(pooling, config, out=out, resume=False)
        return time.perf_counter() - start


def _ours_per_pair(config) -> float:
    """The former structure: one compiled program per (size, variant), the whole training set evaluated."""
    jax.clear_caches()
    keys = jax.random.split(jax.random.key(config.init_seed), config.seeds)
    start = time.perf_counter()
    for size in config.sizes:
        data = pooling.size_data(size, config)
        for variant in pooling.VARIANTS:
            jax.block_until_ready(train_seeds(keys, data, pooling.train_config(variant, config)))
    return time.perf_counter() - start


def _reference(config, train_eval_examples: int | None) -> float | None:
    if not torch_reference.available():
        return None
    total = 0.0
    for size in config.sizes:
        ds = make_dataset(pooling.dataset_config(size, config.test_size))
        raw = {"x": ds.x, "y": ds.y, "x_test": ds.x_test, "y_test": ds.y_test}
        for variant in pooling.VARIANTS:
            total += torch_reference.run_harness(f"pooling_{variant}", raw, total_steps=config.total_steps,
                                                 eval_every=config.eval_every, lr=config.learning_rate,
                                                 batch_size=config.batch_size,
                                                 train_eval_examples=train_eval_examples)["seconds"]
    return total


def run(quick: bool = False) -> list[dict]:
    config = _config(quick)
    runs = len(config.sizes) * len(pooling.VARIANTS)
    what = (f"pooling study, {runs} runs ({len(config.sizes)} sizes x {len(pooling.VARIANTS)} variants, 1 seed, "
            f"{config.total_steps + 1} steps, evaluation every {config.eval_every})")
    study = _ours_study(config)
    per_pair = _ours_per_pair(config)
    full = _reference(config, None)
    subset = _reference(config, config.train_eval_examples)

    def row(label, ours, ref, note):
        return {"what": f"{what}: {label}", "ours_s": ours, "reference_s": ref,
                "ratio": None if ref is None else ref / ours, "note": note}

    no_torch = "torch not installed (pip install -e '.[bench]')"
    return [
        row("ours (one program per variant, training accuracy on 1,000 examples) vs the original's loop", study,
            full, no_torch if full is None else "whole study incl. compiles (cache off), data and figures; "
            "reference: eager PyTorch, whole training set evaluated"),
        row("ours vs the original's loop with the training accuracy on 1,000 examples (the same work)", study,
            subset, no_torch if subset is None else "reference evaluates as ours does"),
        row("ours before (one program per (size, variant), whole training set evaluated) vs the original's loop",
            per_pair, full, "training only, compiles included; the former structure of the study"),
    ]


if __name__ == "__main__":
    for r in run("--quick" in sys.argv):
        print(r)
