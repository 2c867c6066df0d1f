"""The lottery study's searches: 2 trials x {lottery, random} pruned round by round from their rewound initial
weights, every round one compiled program over all searches, resumable per round."""

from __future__ import annotations

import time
from dataclasses import asdict

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core import masks as M
from mnist1d_jax.studies.lottery.config import REFERENCE_ROUND, LotteryConfig
from mnist1d_jax.studies.lottery.harness import (
    lottery_data,
    run_sharded,
    search_round,
    stack_trees,
    theta0,
    unstack_tree,
)


def run_search(cfg: LotteryConfig, ctx) -> dict:
    """The four (2 trials x 2 criteria) searches; resumable per round (``ctx.store``). Returns arrays and
    per-round timing."""
    searches = [(t, c) for t in range(cfg.trials) for c in ("lottery", "random")]
    S = len(searches)
    thetas = stack_trees([theta0(cfg, 42 + t) for t, _ in searches])
    is_random = jnp.array([c == "random" for _, c in searches])
    template = theta0(cfg, 42)
    leaves, treedef = jax.tree_util.tree_flatten(template)
    data = lottery_data(42, classes=ctx.classes)
    # only what determines the search (so a run with other ablation settings resumes it)
    tag = {k: v for k, v in asdict(cfg).items() if not k.startswith("ablation")}
    done, mask_flat, curves, timing, ref_masks = 0, None, [], [], None
    saved = ctx.store.get("search", tag)
    if saved is not None:
        done = saved["done"]
        mask_flat = [m.astype(np.float32) for m in saved["masks"]]
        curves, timing, ref_masks = saved["curves"], saved["timing"], saved["ref_masks"]
    if mask_flat is None:
        mask_flat = [np.ones((S,) + np.shape(leaf), np.float32) for leaf in leaves]
    bar = ctx.bar(len(cfg.rounds), "lottery rounds", "round")
    bar.update(done)
    for j in range(done, len(cfg.rounds)):
        r = cfg.rounds[j]
        if r == REFERENCE_ROUND:
            ref_masks = [np.asarray(m) for m in mask_flat]
        s_next = cfg.sparsity(cfg.rounds[j + 1]) if j + 1 < len(cfg.rounds) else 0.0
        counts = {k: jnp.int32(v) for k, v in M.prune_counts(s_next, template).items()}
        keys = jnp.stack([jax.random.fold_in(jax.random.fold_in(jax.random.key(42 + t), 1), r) for t, _ in searches])
        per_search = unstack_tree(jax.tree_util.tree_unflatten(treedef, mask_flat), S)
        # one shared compacted shape for all searches: the devices run their share of the searches side by side
        units, n_out = M.compact_layout(per_search, cfg.width, cfg.granularity)
        runs = (thetas, jax.tree_util.tree_unflatten(treedef, mask_flat), units, keys, is_random)
        t0, c0 = time.perf_counter(), time.process_time()
        out, nxt_tree = run_sharded(search_round, runs, (counts, data), n_out=n_out, cfg=cfg)
        secs, cpu = time.perf_counter() - t0, time.process_time() - c0
        nxt = [np.asarray(a, np.float32) for a in jax.tree_util.tree_leaves(nxt_tree)]
        n_units = int(units.shape[1])
        cost = M.compact_cost(n_units, n_out, cfg.width)
        curves.append({k: np.asarray(v) for k, v in out.items()})
        timing.append({"seconds": secs, "cpu_seconds": cpu, "n_units": n_units, "n_out": n_out, "cost": cost})
        mask_flat = nxt
        ctx.store.put("search", tag, {"done": j + 1, "masks": [m.astype(np.uint8) for m in mask_flat],
                                      "curves": curves, "timing": timing,
                                      "ref_masks": None if ref_masks is None else
                                      [np.asarray(m).astype(np.uint8) for m in ref_masks]})
        bar.update()
        ctx.log(describe_round(cfg, r, curves[-1], timing[-1]))
    bar.close()
    ref = jax.tree_util.tree_unflatten(treedef, [np.asarray(m, np.float32) for m in ref_masks])
    return {"searches": searches, "curves": curves, "timing": timing, "ref_masks": ref}


def describe_round(cfg: LotteryConfig, r: int, curves: dict, timing: dict) -> str:
    acc = np.ravel(curves["test_acc"][:, -1])
    return (f"round {r} s={cfg.sparsity(r):.3f}: test acc {np.round(acc, 1).tolist()} {timing['seconds']:.1f} s "
            f"(cpu {timing['cpu_seconds']:.1f}), layout {timing['n_units']}x{timing['n_out']} "
            f"cost {timing['cost']:.2f}")
