"""The lottery study's ``run``: the searches, the ablations, then what the record keeps of them (final curves per
round, the reference tickets' densities, first-layer adjacency and mask images, timing)."""

from __future__ import annotations

import time

import numpy as np

from mnist1d_jax.core import masks as M
from mnist1d_jax.studies.lottery.ablations import run_ablations
from mnist1d_jax.studies.lottery.config import REFERENCE_ROUND, LotteryConfig
from mnist1d_jax.studies.lottery.harness import unstack_tree
from mnist1d_jax.studies.lottery.search import run_search


def run(cfg: LotteryConfig, ctx) -> dict:
    """Search, ablations, adjacency and the first-layer masks (``arrays``)."""
    t_start, c_start = time.perf_counter(), time.process_time()
    search = run_search(cfg, ctx)
    # all rounds, including those of an interrupted earlier process (the state file keeps their timing)
    t_search = float(sum(t["seconds"] for t in search["timing"]))
    abl = run_ablations(cfg, search["ref_masks"], search["searches"], ctx)
    searches = search["searches"]
    per_search = unstack_tree(search["ref_masks"], len(searches))
    first = {f"{c}_trial{t}": per_search[i]["Dense_0"]["kernel"].T for i, (t, c) in enumerate(searches)}
    adj = {c: M.adjacency(first[f"{c}_trial0"]) for c in ("random", "lottery")}
    adjacency = {c: {k: {"mean": v["mean"], "sem": v["sem"]} for k, v in adj[c].items()} for c in adj}
    adjacency["lottery_p4_with_original_slip"] = M.adjacency_p4_original_slip(first["lottery_trial0"],
                                                                              first["random_trial0"])
    images = {k: M.sorted_mask_image(v) for k, v in first.items()}
    arrays = {**{f"image_{k}": v.astype(np.uint8) for k, v in images.items()},
              **{f"first_layer_{k}": v.astype(np.uint8) for k, v in first.items()}}
    sparsity = [cfg.sparsity(r) for r in cfg.rounds]
    curves = {}
    for i, (_, c) in enumerate(searches):
        curves.setdefault(c, {k: [] for k in ("test_loss", "test_acc", "train_acc")})
        for k in curves[c]:
            curves[c][k].append([float(np.ravel(rc[k][i])[-1]) if k != "train_acc" else float(rc[k][i])
                                 for rc in search["curves"]])
    ref_density = {f"{c}_trial{t}": M.density(per_search[i]) for i, (t, c) in enumerate(searches)}
    kept_bias = {f"{c}_trial{t}": int(per_search[i]["Dense_0"]["bias"].sum()) for i, (t, c) in enumerate(searches)}
    timing = search["timing"]
    record = {
        "rounds": list(cfg.rounds), "sparsity": sparsity,
        "final": curves,  # criterion -> metric -> (trials, rounds): test loss / acc at the last eval, train acc
        "test_acc_curves": {f"{c}_trial{t}": [np.asarray(rc["test_acc"][i]) for rc in search["curves"]]
                            for i, (t, c) in enumerate(searches)},
        "reference_round": REFERENCE_ROUND, "reference_density": ref_density,
        "reference_kept_first_layer_biases": kept_bias,
        "ablations": abl, "adjacency": adjacency,
        "timing": {"rounds": timing, "search_seconds": t_search,
                   "seconds_per_round": float(np.mean([t["seconds"] for t in timing])),
                   "cpu_seconds_per_round": float(np.mean([t["cpu_seconds"] for t in timing])),
                   "searches_per_round": len(searches), "ablation": abl["timing"],
                   "total_seconds": time.perf_counter() - t_start,
                   "total_cpu_seconds": time.process_time() - c_start,
                   "mean_compact_cost": float(np.mean([t["cost"] for t in timing]))},
        "arrays": arrays,
    }
    return record
