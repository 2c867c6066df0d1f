"""How fast the lottery study can possibly be on this machine (the `floors` section of ``scripts/speed.py``).

The lottery study is dense matrix products: every search round trains the width-500 residual MLP for 1,502
Adam steps (batch 100), every ablation run for 6,001 steps (batch 500), ~2e14 FLOP in all, and a mask only
removes work where it kills whole units (``masks.compact_residual``). This section measures, with both cores
busy exactly as in the study (one program per core):

* a dense search round of the four searches (two programs of two vmapped searches) and a pair of dense
  ablation runs, beside the original's 6.0 s per search-round (quoted from issue 5; its code is not run here);
* the study's floor: those rates times the work of the recorded run (``figures/lottery.json``: each round's
  and each ablation job's compacted cost), i.e. the time with no compile, no Python and no other load;
* a bound no implementation beats: the recorded run's multiply-adds at the dense matrix product's rate;
* the alternatives for the masked second layer at the 92 % ticket's density (8 %), batch 500: the dense
  product, ``jax.experimental.sparse`` (BCOO) and a gather-based (ELL) sparse product. If a sparse product
  beat the dense one, the high-sparsity runs could skip the pruned weights; on a CPU it does not.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

ORIGINAL_S_PER_SEARCH_ROUND = 6.0  # issue 5: the original code, one trial and one criterion, on this machine
FIGURES = Path(__file__).resolve().parents[1] / "figures"


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _row(what, ours, reference, note=""):
    return {"what": what, "ours_s": ours, "reference_s": reference,
            "ratio": None if reference is None else reference / ours, "note": note}


def lottery_rows(quick: bool, matmul_flops_per_s: float) -> list[dict]:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from mnist1d_jax.core import masks as M
    from mnist1d_jax.runtime.results import read_json
    from mnist1d_jax.studies import lottery as L

    steps = 21 if quick else 301  # timed runs, scaled to the study's step counts
    cfg = dataclasses.replace(L.LotteryConfig(), total_steps=steps, ablation_steps=steps, eval_every=min(100, steps),
                              snapshot_step=min(100, steps))
    data = L.lottery_data(42)
    theta = L.theta0(cfg, 42)
    template = M.ones_like(theta)

    def stack(tree, n):
        return jax.tree_util.tree_map(lambda a: jnp.stack([a] * n), tree)

    units = jnp.asarray(np.tile(np.arange(cfg.width, dtype=np.int32), (2, 1)))
    counts = {k: jnp.int32(v) for k, v in M.prune_counts(0.5, theta).items()}
    keys = jnp.stack([jax.random.key(i) for i in range(4)])

    def search_pair():  # one program of the 4 searches, split over the devices, as run_search runs them
        runs = (stack(theta, 4), stack(template, 4), np.tile(np.asarray(units[:1]), (4, 1)),
                keys, jnp.array([False, False, True, True]))
        L.run_sharded(L.search_round, runs, (counts, data), n_out=cfg.width, cfg=cfg)

    xs, x_tests = jnp.stack([data[0]] * 2), jnp.stack([data[2]] * 2)

    def ablation_pair():  # two dense ablation runs, split over the devices
        runs = (stack(theta, 2), stack(template, 2), units, xs, x_tests)
        L.run_sharded(L.ablation_runs, runs, (data[1], data[3]), n_out=cfg.width, cfg=cfg)

    search_pair()  # compile
    ablation_pair()
    repeats = 1 if quick else 2
    round_s = _best(search_pair, repeats) * 1502 / (steps + 1)  # one dense round of the 4 searches
    pair_s = _best(ablation_pair, repeats) * 6001 / (steps + 1)  # two dense ablation runs side by side

    note_search = "dense masks; one program of 4 vmapped searches split over the devices; compile excluded"
    note_ablation = "dense; two runs split over the devices; compile excluded"
    path = FIGURES / "lottery.json"
    if path.exists():
        record = read_json(path)
        costs = [t["cost"] for t in record["timing"]["rounds"]]
        search_floor = sum(costs) * round_s
        jobs = {k: v for k, v in record["timing"]["ablation"].items() if k != "this_process"}
        runs = sum(v["runs"] * M.compact_cost(v["n_units"], v["n_out"], cfg.width) for v in jobs.values())
        ablation_floor = runs / 2 * pair_s
        recorded = record["timing"]["search_seconds"] / 60
        note_search += (f"; the recorded {len(costs)} rounds (mean compacted cost {np.mean(costs):.2f}) at this "
                        f"rate: search floor {search_floor / 60:.1f} min (recorded {recorded:.1f})")
        note_ablation += (f"; the recorded ablation jobs ({runs:.1f} dense-run equivalents after compaction) at "
                          f"this rate: floor {ablation_floor / 60:.1f} min; study floor "
                          f"{(search_floor + ablation_floor) / 60:.1f} min (target 20)")
        # every multiply-add of the recorded run at the dense matrix product's measured rate, nothing else (no
        # elementwise work, no Adam): per parameter and example 2 FLOP forward, 2 for the weight gradient and 2
        # for the input gradient, which the first layer does not need
        n_params = sum(int(np.size(a)) for a in jax.tree_util.tree_leaves(theta))
        per_example = 6 * n_params - 2 * sum(int(np.size(a)) for a in jax.tree_util.tree_leaves(theta["Dense_0"]))
        flop = per_example * (sum(costs) * 4 * 1502 * cfg.batch_size + runs * 6001 * cfg.ablation_batch)
        matmul_note = (f"{flop:.2e} FLOP (~6 per parameter and example, compacted as recorded) at the dense "
                       f"product's {matmul_flops_per_s / 1e9:.0f} GFLOP/s (both cores, measured below); "
                       f"the study's lower bound on this machine, target 20 min")
        rows_extra = [_row("lottery study, matrix products only (a bound no implementation beats)",
                           flop / matmul_flops_per_s, None, matmul_note)]
    else:
        rows_extra = []
    return [_row("lottery: one search round of all 4 searches (1,502 steps each)", round_s,
                 4 * ORIGINAL_S_PER_SEARCH_ROUND, note_search),
            _row("lottery: two ablation runs side by side (6,001 steps, batch 500)", pair_s, None, note_ablation),
            *rows_extra]


def sparse_rows(quick: bool) -> tuple[list[dict], float]:
    """The sparse-product row, and the dense product's FLOP/s (both cores) for the lottery bound."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.experimental import sparse

    rng = np.random.default_rng(0)
    batch, width, density = 500, 500, 20_243 / 250_500  # the 92 % ticket's second layer
    w = ((rng.random((width, width)) < density) * rng.standard_normal((width, width))).astype(np.float32)
    h = jnp.asarray(rng.standard_normal((batch, width)).astype(np.float32))
    # ELL: for each output unit its incoming (input, weight) pairs, padded to the longest row
    w_out_in = w.T
    k = int((w_out_in != 0).sum(1).max())
    idx, val = np.zeros((width, k), np.int32), np.zeros((width, k), np.float32)
    for i in range(width):
        nz = np.flatnonzero(w_out_in[i])
        idx[i, :len(nz)], val[i, :len(nz)] = nz, w_out_in[i, nz]

    def ell(h_t, idx, val):  # out[i, :] = sum_k val[i, k] * h_t[idx[i, k], :], one gathered row per step
        def body(acc, j):
            return acc + val[:, j, None] * h_t[idx[:, j]], None
        return jax.lax.scan(body, jnp.zeros((width, h_t.shape[1]), h_t.dtype), jnp.arange(idx.shape[1]))[0]

    dense_fn = jax.jit(lambda h, w: h @ w)
    bcoo_fn = jax.jit(lambda h, ws: (ws.T @ h.T).T)
    ell_fn = jax.jit(ell)
    w_dense, w_bcoo = jnp.asarray(w), sparse.BCOO.fromdense(jnp.asarray(w))
    idx_j, val_j = jnp.asarray(idx), jnp.asarray(val)
    calls = {"dense": lambda: dense_fn(h, w_dense), "bcoo": lambda: bcoo_fn(h, w_bcoo),
             "ell": lambda: ell_fn(h.T, idx_j, val_j)}
    reference = np.asarray(calls["dense"]())
    for name in ("bcoo", "ell"):
        out = np.asarray(calls[name]())
        out = out.T if name == "ell" else out
        if not np.allclose(out, reference, rtol=1e-4, atol=1e-4):
            raise AssertionError(f"sparse product {name} disagrees with the dense one")
    n = 5 if quick else 50
    times = {}
    for name, call in calls.items():
        repeats = 3 if quick else 10  # the best of many: the bound uses the product's fastest rate
        times[name] = _best(lambda call=call: [jax.block_until_ready(call()) for _ in range(n)], repeats) / n
    flops = 2 * batch * width * width
    note = (f"density {density:.3f}; dense {flops / times['dense'] / 1e9:.0f} GFLOP/s; BCOO "
            f"{times['bcoo'] * 1e3:.2f} ms ({times['bcoo'] / times['dense']:.1f}x dense), gather-ELL (rows of "
            f"{k}) {times['ell'] * 1e3:.2f} ms ({times['ell'] / times['dense']:.1f}x dense)")
    return [_row("masked 500x500 layer at 8 % density, batch 500, forward: dense product", times["dense"], None,
                 note)], flops / times["dense"]


def run(quick: bool) -> list[dict]:
    sparse, matmul_flops_per_s = sparse_rows(quick)
    return lottery_rows(quick, matmul_flops_per_s) + sparse
