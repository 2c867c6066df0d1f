"""The lottery study's ablations on the reference (92 %) ticket: new data, flipped inputs, permuted inputs and
re-initialised weights, each for the dense model, the lottery ticket and the random ticket."""

from __future__ import annotations

import time
from dataclasses import asdict

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core import masks as M
from mnist1d_jax.data.splits import LOTTERY_SHUFFLE
from mnist1d_jax.studies.lottery.config import CONDITIONS, MODELS, LotteryConfig
from mnist1d_jax.studies.lottery.harness import (
    ablation_runs,
    lottery_data,
    run_sharded,
    stack_trees,
    theta0,
    unstack_tree,
)


def run_ablations(cfg: LotteryConfig, ref_masks, searches, ctx) -> dict:
    """The ablations: conditions x trials x {dense, lottery, random}. Each model type is one program at one
    compacted shape, its runs split over the devices. Every finished program is kept in ``ctx.store``
    (resumable; same config and masks)."""
    trials = range(cfg.ablation_trials or cfg.trials)
    kept = ctx.classes
    datasets = {"baseline": lottery_data(43, classes=kept), "flipped": lottery_data(43, flip=True, classes=kept),
                "shuffled": lottery_data(43, LOTTERY_SHUFFLE, classes=kept), "reinit": lottery_data(43, classes=kept)}
    S = len(searches)
    per_search = unstack_tree(ref_masks, S)
    mask_of = {(t, c): per_search[i] for i, (t, c) in enumerate(searches)}
    runs = [(cond, t, m) for cond in CONDITIONS for t in trials for m in MODELS]
    y, y_test = datasets["baseline"][1], datasets["baseline"][3]
    results, timing = {}, {}
    t0, c0 = time.perf_counter(), time.process_time()
    for model in MODELS:
        sel = [r for r in runs if r[2] == model]
        mks = [M.ones_like(per_search[0]) if m == "dense" else mask_of[(t, m)] for _, t, m in sel]
        units, n_out = M.compact_layout(mks, cfg.width, cfg.granularity)
        n_units = int(units.shape[1])
        tag = {"config": asdict(cfg), "runs": sel,
               "kept": [float(np.asarray(jax.tree_util.tree_leaves(mk)[0]).sum()) for mk in mks]}
        saved = ctx.store.get(f"ablation_{model}", tag)
        if saved is None:
            t_model = time.perf_counter()
            per_run = (stack_trees([theta0(cfg, 42 + t + (1 if cond == "reinit" else 0)) for cond, t, _ in sel]),
                       stack_trees([jax.tree_util.tree_map(jnp.asarray, mk) for mk in mks]), units,
                       np.stack([datasets[c][0] for c, _, _ in sel]), np.stack([datasets[c][2] for c, _, _ in sel]))
            out = run_sharded(ablation_runs, per_run, (y, y_test), n_out=n_out, cfg=cfg)
            saved = {"seconds": time.perf_counter() - t_model, **{k: np.asarray(v) for k, v in out.items()}}
            ctx.store.put(f"ablation_{model}", tag, saved)
            timing[model] = {"seconds": saved["seconds"], "runs": len(sel), "n_units": n_units, "n_out": n_out}
        else:
            timing[model] = {"seconds": float(saved["seconds"]), "runs": len(sel), "n_units": n_units,
                             "n_out": n_out, "resumed": True}
        for i, key in enumerate(sel):
            results[key] = {k: np.asarray(saved[k][i]) for k in ("test_loss", "test_acc", "train_acc")}
    timing["this_process"] = {"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0,
                              "programs": len(MODELS)}
    steps = np.arange(cfg.ablation_steps // cfg.eval_every + 1) * cfg.eval_every
    table = {}
    for cond in CONDITIONS:
        table[cond] = {}
        for m in MODELS:
            acc = np.stack([results[(cond, t, m)]["test_acc"] for t in trials])  # (trials, evals)
            table[cond][m] = {"test_acc": acc, "test_loss": np.stack([results[(cond, t, m)]["test_loss"]
                                                                        for t in trials]),
                              # the paper's plateau: after ~1,000 steps (the second half of shorter runs)
                              "plateau": float(acc[:, steps >= min(1000, steps[-1] // 2)].mean())}
    return {"steps": steps, "conditions": table, "timing": timing, "trials": list(trials)}
