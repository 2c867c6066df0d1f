"""Speed of the training core against a plain PyTorch version of the same models and harness.

    python scripts/speed_train.py            # the Table-1 runs (minutes: the PyTorch GRU is slow)
    python scripts/speed_train.py --quick    # 200 steps each (a smoke test of the script)

Rows: one CNN Table-1 run (6,001 steps, 25 evaluations; compile included and excluded), ten CNN seeds in one
vmapped call, one GRU run, one MLP run. The reference is ``scripts/torch_reference.py`` (eager PyTorch, Python
loop over steps); its GRU is timed on ``--torch-gru-steps`` steps and scaled linearly to the full run (said in
the row). Without torch installed the reference values are None (printed "n/a"). Timings are wall-clock seconds on this
machine; the load average at the start is reported because the machine may be shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import sys
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# `python scripts/x.py` puts scripts/ first on sys.path, where a script named like a stdlib module (ssl.py)
# would shadow it for torch's imports: drop it, and load the reference by path instead.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import jax  # noqa: E402

from mnist1d_jax.core.runs import TrainConfig, train_jit, train_seeds  # noqa: E402
from mnist1d_jax.data.splits import prepare_data  # noqa: E402
from mnist1d_jax.runtime.backend import main_on_all_cores  # noqa: E402

_spec = importlib.util.spec_from_file_location("torch_reference", _HERE / "torch_reference.py")
torch_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(torch_reference)


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return time.perf_counter() - t0, out


def _ours(data, config: TrainConfig, seeds: int | None = None, repeats: int = 2) -> tuple[float, float]:
    """(seconds including compile, best seconds excluding compile over `repeats` calls) of one call."""
    if seeds is None:
        call = lambda: train_jit(jax.random.key(0), data, config)  # noqa: E731
    else:
        keys = jax.random.split(jax.random.key(0), seeds)
        call = lambda: train_seeds(keys, data, config)  # noqa: E731
    jax.clear_caches()
    first, _ = _timed(call)
    return first, min(_timed(call)[0] for _ in range(repeats))


def run(quick: bool = False, torch_gru_steps: int = 1000, torch_threads: int | None = None,
        repeats: int | None = None) -> list[dict]:
    """Time each row; returns dicts with ``what``, ``ours_s``, ``reference_s``, ``ratio`` (reference / ours).

    Both sides report the best of `repeats` timed runs (default 2, 1 with `quick`; ours after a compiling
    call), the usual benchmark practice on a machine whose speed drifts: a transient slow-down of either side
    does not become its figure."""
    repeats = (1 if quick else 2) if repeats is None else repeats
    from mnist1d_jax import DatasetConfig, make_dataset

    ds = make_dataset(DatasetConfig())
    raw = {"x": ds.x, "y": ds.y, "x_test": ds.x_test, "y_test": ds.y_test}
    data = prepare_data(ds)
    steps = 200 if quick else 6000
    base = TrainConfig(total_steps=steps, eval_every=min(250, steps))
    have_torch = torch_reference.available()

    def ref(model, n_steps=steps):
        if not have_torch:
            return None
        best = min(torch_reference.run_harness(model, raw, total_steps=n_steps, eval_every=base.eval_every,
                                               threads=torch_threads)["seconds"] for _ in range(repeats))
        return best * (steps + 1) / (n_steps + 1)

    rows = []

    def row(what, ours, reference):
        rows.append({"what": what, "ours_s": round(ours, 2),
                     "reference_s": None if reference is None else round(reference, 2),
                     "ratio": None if reference is None else round(reference / ours, 1)})

    cnn_incl, cnn_excl = _ours(data, dataclasses.replace(base, model="cnn"), repeats=repeats)
    cnn_ref = ref("cnn")
    row(f"CNN, one run of {steps + 1} steps, compile included", cnn_incl, cnn_ref)
    row(f"CNN, one run of {steps + 1} steps, compile excluded", cnn_excl, cnn_ref)
    _, ten = _ours(data, dataclasses.replace(base, model="cnn"), seeds=10, repeats=repeats)
    row("CNN, ten seeds in one vmapped call, compile excluded (reference: 10 x one run)", ten,
        None if cnn_ref is None else 10 * cnn_ref)
    gru_incl, gru_excl = _ours(data, dataclasses.replace(base, model="gru"), repeats=repeats)
    g_steps = min(torch_gru_steps, steps)
    gru_ref = ref("gru", g_steps)
    row(f"GRU, one run of {steps + 1} steps, compile excluded (reference timed on {g_steps + 1} steps, scaled)",
        gru_excl, gru_ref)
    row(f"GRU, one run of {steps + 1} steps, compile included", gru_incl, gru_ref)
    _, mlp_excl = _ours(data, dataclasses.replace(base, model="mlp"), repeats=repeats)
    row(f"MLP, one run of {steps + 1} steps, compile excluded", mlp_excl, ref("mlp"))
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="training-core speed vs plain PyTorch")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--torch-gru-steps", type=int, default=1000)
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="threads for the PyTorch reference (default: torch's; 1 is fairer on a busy machine)")
    parser.add_argument("--out", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    rows = run(args.quick, args.torch_gru_steps, args.torch_threads)
    print(f"load average at start: {load:.2f} on {os.cpu_count()} CPUs; jax {jax.__version__}; "
          f"torch threads: {args.torch_threads or 'default'}")
    print("| what | ours (s) | PyTorch (s) | ratio |\n|---|---|---|---|")
    for r in rows:
        ref, ratio = ("n/a" if v is None else v for v in (r["reference_s"], r["ratio"]))
        print(f"| {r['what']} | {r['ours_s']} | {ref} | {ratio} |")
    if args.out:
        from mnist1d_jax.runtime.results import provenance, write_json

        write_json(args.out, {"rows": rows, "load_average": load, "quick": args.quick,
                              "torch_threads": args.torch_threads, "provenance": provenance()})
    return 0


if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
