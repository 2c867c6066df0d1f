"""Lottery tickets (paper Fig. 3 a-g and the appendix mask figure).

Protocol. The model is the Table-1 MLP at width 500 (40→500, a residual 500→500, 500→10; 276,010
parameters) with a 0/1 mask over every layer's weights and biases, applied in every forward pass. The search
(two trials x two criteria): from the initial weights θ0 (seed 42 + trial, the same θ0 for both criteria), for
rounds i = 0..99 at sparsity s_i = i / 99, prune each layer's floor(s_i · size) lowest-scoring entries
(layer-wise, biases included), rewind to θ0 with the new mask and train under the original harness (Adam 0.02,
batch 100, T = 1,501, test evaluation every 100 steps); the scores of the next round are |weights| of this
round's step-1,000 snapshot (the original keeps that snapshot; the final weights are an option) for lottery
tickets, fresh uniform noise for random tickets. Round 91 (s = 0.92) is the reference ticket. Ablations on it,
per trial: new seed-43 data, the inputs flipped, the inputs permuted (``np.random.seed(0); permutation(40)``)
and the weights re-initialised (seed 43 + trial, masks kept), each for the dense model, the lottery ticket and
the random ticket (batch 500, T = 6,000); then the adjacency of the first layer's kept weights (the fraction of
runs of 2, 3, 4 adjacent kept inputs per hidden unit) and the first-layer mask images.

The paper: dense ~63.5-66 %; lottery tickets peak at ~73-76 % around sparsity 0.88-0.93 while random tickets
collapse earlier; on new data the 92 % ticket plateaus at ~70.5 % vs dense ~63.7 and random ~59, keeps most of
its advantage on flipped inputs (~68.8), loses it on permuted ones (~62.8) and keeps much of it re-initialised
(~67.3); lottery tickets keep more adjacent first-layer weights (p2 ~0.0086 vs ~0.0072 random).

How: every round of the four searches is ONE compiled program whose run axis (the searches) is split over
the devices (``core.parallel``: CPU cores after ``use_cpu_cores()``, GPUs, or every host's devices after
``jax.distributed.initialize()``); every round trains only the units its masks leave alive
(``masks.compact_residual``: exact, dead work skipped) at one shared padded shape, and the ablations are one such
program per model type. The search and every ablation program are kept in the study's store as they finish, so
an interrupted run resumes.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import asdict
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core import masks as M
from mnist1d_jax.core.evaluation import split_metrics
from mnist1d_jax.core.loop import Hook, eval_points, train_loop
from mnist1d_jax.core.parallel import replicate, spread_leading, take_leading
from mnist1d_jax.core.schedules import Sequential
from mnist1d_jax.core.step import create_train_state, cross_entropy, make_optimizer
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import LOTTERY_SHUFFLE, Data, prepare_data
from mnist1d_jax.nn.init import init_params
from mnist1d_jax.nn.models import MLP
from mnist1d_jax.runtime.figures import save_figure
from mnist1d_jax.runtime.validation import Config, choice, fail, integer, option, optional, positive, tuple_of

NAME = "lottery"
TITLE = "Lottery tickets (Fig. 3 a-g, mask figure)"
ORIGINAL_MINUTES = 40.0

REFERENCE_ROUND = 91  # s = 91/99 = 0.919, the paper's "92 % sparse" ticket
CONDITIONS = ("baseline", "flipped", "shuffled", "reinit")
MODELS = ("dense", "lottery", "random")


@dataclasses.dataclass(frozen=True)
class LotteryConfig(Config):
    """The study's settings; defaults are the paper's."""

    width: int = option(500, integer(8, 100_000), "hidden width of the residual MLP")
    trials: int = option(2, integer(1, 1000), "trials (each with its own initial weights)")
    rounds: tuple[int, ...] = option(tuple(range(100)), tuple_of(integer(0), unique=True, increasing=True),
                                     "which rounds i of the schedule s_i = i / (n_schedule - 1) to run")
    n_schedule: int = option(100, integer(2, 100_000), "rounds of the full sparsity schedule")
    learning_rate: float = option(0.02, positive(1e3), "Adam's learning rate")
    batch_size: int = option(100, integer(1, 4000), "examples per batch of the search")
    total_steps: int = option(1501, integer(1, 10_000_000), "T of every search round (T + 1 updates)")
    eval_every: int = option(100, integer(1), "evaluate every this many steps")
    snapshot_step: int = option(1000, integer(0), "pruning scores come from this step's snapshot")
    score_from: str = option("snapshot", choice("snapshot", "final"), "score the snapshot or the final weights")
    ablation_batch: int = option(500, integer(1, 4000), "examples per batch of the ablations")
    ablation_steps: int = option(6000, integer(1, 10_000_000), "T of the ablation runs")
    ablation_trials: int | None = option(None, optional(integer(1)), "trials of the ablations (default: all)")
    granularity: int = option(50, integer(1), "compacted layouts are multiples of this many units")

    def _check(self) -> None:
        if REFERENCE_ROUND not in self.rounds:
            fail(self, "rounds", self.rounds, f"must include the reference round {REFERENCE_ROUND} (the 92 % ticket)")
        if self.rounds[-1] > self.n_schedule - 1:
            fail(self, "rounds", self.rounds, f"rounds run from 0 to n_schedule - 1 = {self.n_schedule - 1}")
        if self.eval_every > self.total_steps or self.eval_every > self.ablation_steps:
            fail(self, "eval_every", self.eval_every, "must be <= total_steps and ablation_steps")
        if self.score_from == "snapshot" and (self.snapshot_step > self.total_steps or
                                               self.snapshot_step % self.eval_every):
            fail(self, "snapshot_step", self.snapshot_step, f"must be an evaluation step <= total_steps="
                 f"{self.total_steps} (a multiple of eval_every={self.eval_every})")
        if self.ablation_trials is not None and self.ablation_trials > self.trials:
            fail(self, "ablation_trials", self.ablation_trials, f"must be <= trials={self.trials}")

    def sparsity(self, i: int) -> float:
        return i / (self.n_schedule - 1)


Config = LotteryConfig
QUICK = LotteryConfig(width=32, trials=1, rounds=(0, 50, 91), total_steps=21, eval_every=10, snapshot_step=10,
                      ablation_batch=100, ablation_steps=20, granularity=8)
PAPER_SEEDS: dict = {}  # the default is the paper's two trials


# --------------------------------------------------------------------------------------------------------------
# One harness run on compacted parameters (search rounds and ablations alike)
# --------------------------------------------------------------------------------------------------------------
def _lottery_hook(snapshot_step: int, last: int, x, y) -> Hook:
    """Keep the parameters evaluated at ``snapshot_step`` (the pruning scores' snapshot) and the train loss
    and accuracy at the last evaluation ``last``."""
    train = split_metrics(Data(x, y, x[:0], y[:0]), ("train",), cross_entropy)

    def init(state):
        return state.params, (jnp.float32(0.0), jnp.float32(0.0))

    def update(h, state, metrics, step):
        snap, measured = h
        snap = jax.tree_util.tree_map(lambda a, b: jnp.where(step == snapshot_step, a, b), state.params, snap)
        measured = jax.lax.cond(step == last, lambda: tuple(train(state)[k] for k in ("train_loss", "train_acc")),
                                lambda: measured)
        return snap, measured

    return Hook(init, update)


def harness_run(params, mask, x, y, x_test, y_test, *, n_out: int, lr: float, batch: int, total_steps: int,
                eval_every: int, snapshot_step: int):
    """The original harness with Adam on the compacted residual MLP ``params * mask`` (the core loop).

    Sequential batches ``i0 = s * B mod N``, updates s = 0..T, test loss/accuracy after the update of every
    ``s % E == 0``, a snapshot after step ``snapshot_step``, train accuracy at the last evaluation.
    Returns ``{"test_loss", "test_acc" (T // E + 1,), "train_acc", "train_loss", "snapshot", "final"}``.
    """
    model = MLP(width=params["Dense_0"]["kernel"].shape[1], residual_outputs=n_out)
    state = create_train_state(None, model, make_optimizer("adam", lr), params=params, mask=mask)
    last = eval_points(total_steps + 1, eval_every, 0)[-1]
    state, metrics, (snap, (train_loss, train_acc)) = train_loop(
        state, Sequential(x, y, batch), total_steps + 1, eval_every=eval_every, first_eval=0,
        evaluate=split_metrics(Data(x_test[:0], y_test[:0], x_test, y_test), ("test",), cross_entropy),
        hook=_lottery_hook(snapshot_step, last, x, y))
    return {"test_loss": metrics["test_loss"], "test_acc": metrics["test_acc"], "train_acc": train_acc,
            "train_loss": train_loss, "snapshot": snap, "final": state.params}


@functools.partial(jax.jit, static_argnames=("n_out", "cfg"))
def search_round(theta0, mask, units, prune_keys, is_random, counts_next, data, *, n_out: int, cfg: LotteryConfig):
    """One round of all searches (leading axis S on theta0, mask, units, prune_keys, is_random): train the
    compacted rewound ticket, then prune the next round's mask from the step-1000 snapshot (or final weights).
    Returns (curves, next masks, compacted-layer cost)."""
    x, y, x_test, y_test = data

    def one(theta0, mask, units, key, rnd):
        pc, mc = M.compact_residual(theta0, units, n_out), M.compact_residual(mask, units, n_out)
        out = harness_run(pc, mc, x, y, x_test, y_test, n_out=n_out, lr=cfg.learning_rate, batch=cfg.batch_size,
                          total_steps=cfg.total_steps, eval_every=cfg.eval_every, snapshot_step=cfg.snapshot_step)
        trained = out["snapshot"] if cfg.score_from == "snapshot" else out["final"]
        full = M.expand_residual(trained, theta0, units, n_out)
        scores = jax.tree_util.tree_map(lambda m, r: jnp.where(rnd, r, m), M.magnitude_scores(full, mask),
                                        M.random_scores(key, full))
        nxt = M.mask_from_scores(scores, counts_next)
        curves = {k: out[k] for k in ("test_loss", "test_acc", "train_acc", "train_loss")}
        return curves, nxt

    return jax.vmap(one)(theta0, mask, units, prune_keys, is_random)


@functools.partial(jax.jit, static_argnames=("n_out", "cfg"))
def ablation_runs(params, mask, units, xs, x_tests, y, y_test, *, n_out: int, cfg: LotteryConfig):
    """Many ablation runs at once: per-run params, mask, layout and (transformed) inputs; batch 500, T = 6000."""
    def one(p, m, u, x, x_test):
        out = harness_run(M.compact_residual(p, u, n_out), M.compact_residual(m, u, n_out), x, y, x_test, y_test,
                          n_out=n_out, lr=cfg.learning_rate, batch=cfg.ablation_batch,
                          total_steps=cfg.ablation_steps, eval_every=cfg.eval_every, snapshot_step=-1)
        return {k: out[k] for k in ("test_loss", "test_acc", "train_acc")}

    return jax.vmap(one)(params, mask, units, xs, x_tests)


# --------------------------------------------------------------------------------------------------------------
# The study
# --------------------------------------------------------------------------------------------------------------
def run_sharded(fn, runs, shared, **static):
    """``fn(*runs, *shared, **static)`` as one program whose run axis (the leading axis of every leaf of
    ``runs``) is split over the devices; returns the outputs of the real runs as NumPy arrays."""
    spread, n = spread_leading(runs)
    return jax.device_get(take_leading(fn(*spread, *replicate(shared), **static), n))


def _stack(trees):
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *trees)


def _unstack(tree, n):
    return [jax.tree_util.tree_map(lambda a, i=i: np.asarray(a[i]), tree) for i in range(n)]


def _data(seed: int = 42, permutation=None, flip: bool = False, classes=None):
    """(x, y, x_test, y_test) of the dataset of `seed`, the kept digits only under a class subset `classes`."""
    data = prepare_data(get_dataset(DatasetConfig(seed=seed)), permutation=permutation, flip=flip, classes=classes)
    return tuple(data[:4])


def theta0(cfg: LotteryConfig, seed: int):
    """Initial weights of the width-``cfg.width`` residual MLP, PyTorch-default init from ``key(seed)``."""
    return init_params(MLP(width=cfg.width, depth=2, residual=True), jax.random.key(seed))


_CURVES = ("test_loss", "test_acc", "train_acc", "train_loss")
_TIMING = ("seconds", "cpu_seconds", "n_units", "n_out", "cost")


def run_search(cfg: LotteryConfig, ctx) -> dict:
    """The four (2 trials x 2 criteria) searches; resumable per round (``ctx.store``). Returns arrays and
    per-round timing."""
    searches = [(t, c) for t in range(cfg.trials) for c in ("lottery", "random")]
    S = len(searches)
    thetas = _stack([theta0(cfg, 42 + t) for t, _ in searches])
    is_random = jnp.array([c == "random" for _, c in searches])
    template = theta0(cfg, 42)
    leaves, treedef = jax.tree_util.tree_flatten(template)
    data = _data(42, classes=ctx.classes)
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
        per_search = _unstack(jax.tree_util.tree_unflatten(treedef, mask_flat), S)
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


def run_ablations(cfg: LotteryConfig, ref_masks, searches, ctx) -> dict:
    """The ablations: conditions x trials x {dense, lottery, random}. Each model type is one program at one
    compacted shape, its runs split over the devices. Every finished program is kept in ``ctx.store``
    (resumable; same config and masks)."""
    trials = range(cfg.ablation_trials or cfg.trials)
    kept = ctx.classes
    datasets = {"baseline": _data(43, classes=kept), "flipped": _data(43, flip=True, classes=kept),
                "shuffled": _data(43, LOTTERY_SHUFFLE, classes=kept), "reinit": _data(43, classes=kept)}
    S = len(searches)
    per_search = _unstack(ref_masks, S)
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
            per_run = (_stack([theta0(cfg, 42 + t + (1 if cond == "reinit" else 0)) for cond, t, _ in sel]),
                       _stack([jax.tree_util.tree_map(jnp.asarray, mk) for mk in mks]), units,
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


def run(cfg: LotteryConfig, ctx) -> dict:
    """Search, ablations, adjacency and the first-layer masks (``arrays``)."""
    t_start, c_start = time.perf_counter(), time.process_time()
    search = run_search(cfg, ctx)
    # all rounds, including those of an interrupted earlier process (the state file keeps their timing)
    t_search = float(sum(t["seconds"] for t in search["timing"]))
    abl = run_ablations(cfg, search["ref_masks"], search["searches"], ctx)
    searches = search["searches"]
    per_search = _unstack(search["ref_masks"], len(searches))
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


# --------------------------------------------------------------------------------------------------------------
# Figures (from the files only)
# --------------------------------------------------------------------------------------------------------------
COLORS = {"lottery": "tab:blue", "random": "tab:red", "dense": "k"}


def _band(ax, x, vals, color, label, ls="-"):
    vals = np.asarray(vals, np.float64)
    m = vals.mean(0)
    ax.plot(x, m, ls, color=color, label=label, lw=1.3)
    if vals.shape[0] > 1:
        e = vals.std(0) / np.sqrt(vals.shape[0])
        ax.fill_between(x, m - e, m + e, color=color, alpha=0.2)


def draw(rec: dict, out: str | Path) -> list[Path]:
    """``lottery.png`` (panels a-g) and ``lottery_masks.png``, from the record and its mask arrays."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out)
    s = np.asarray(rec["sparsity"])
    fig = plt.figure(figsize=(17, 8.2))
    grid = fig.add_gridspec(2, 6)
    ax_a, ax_b = fig.add_subplot(grid[0, 0:2]), fig.add_subplot(grid[0, 2:4])
    for crit in ("random", "lottery"):
        f = rec["final"][crit]
        _band(ax_a, s, f["test_loss"], COLORS[crit], crit)
        _band(ax_b, s, f["test_acc"], COLORS[crit], crit)
    dense_loss = np.mean(np.asarray(rec["final"]["lottery"]["test_loss"])[:, 0])
    dense_acc = np.mean(np.asarray(rec["final"]["lottery"]["test_acc"])[:, 0])
    ax_a.axhline(dense_loss, color="k", ls="--", lw=1, label="dense")
    ax_b.axhline(dense_acc, color="k", ls="--", lw=1, label="dense")
    ax_a.set_yscale("log")
    ax_a.set(title="a. final test loss vs sparsity", xlabel="sparsity", ylabel="test loss")
    ax_b.set(title="b. final test accuracy vs sparsity", xlabel="sparsity", ylabel="test accuracy (%)")
    ax_a.legend(fontsize=8)
    ax_b.legend(fontsize=8)
    abl = rec["ablations"]
    steps = np.asarray(abl["steps"])
    titles = {"baseline": "c. 92% ticket, new data", "flipped": "d. flipped inputs", "shuffled": "e. shuffled inputs",
              "reinit": "f. re-initialised weights"}
    slots = [grid[0, 4], grid[0, 5], grid[1, 0], grid[1, 1]]
    for slot, cond in zip(slots, CONDITIONS, strict=True):
        ax = fig.add_subplot(slot)
        for m in MODELS:
            c = abl["conditions"][cond][m]
            _band(ax, steps, c["test_acc"], COLORS[m], f"{m} {c['plateau']:.1f}")
        ax.set_ylim(50, 78)
        ax.set(title=titles[cond], xlabel="step")
        ax.legend(fontsize=7, loc="lower right")
    adj = rec["adjacency"]
    for j, k in enumerate(("p2", "p3", "p4")):
        ax = fig.add_subplot(grid[1, 2 + j])
        means = [adj["random"][k]["mean"], adj["lottery"][k]["mean"]]
        sems = [adj["random"][k]["sem"], adj["lottery"][k]["sem"]]
        ax.bar([0, 1], means, yerr=sems, color=[COLORS["random"], COLORS["lottery"]], capsize=4)
        ax.set_xticks([0, 1], ["random", "lottery"])
        ax.set_title(f"g. {k}: {k[1]} adjacent kept inputs", fontsize=9)
    ax = fig.add_subplot(grid[1, 5])
    ax.axis("off")
    t = rec["timing"]
    rows = report_rows(rec)
    text = "\n".join(f"{r['quantity']}\n   paper {r['paper']}\n   ours  {r['ours']}" for r in rows[:-2])
    ax.text(-0.25, 1.02, f"rounds: {len(rec['rounds'])}, trials: {rec['config']['trials']}\n"
            f"search: {t['search_seconds'] / 60:.1f} min ({t['seconds_per_round']:.1f} s per round of "
            f"{t['searches_per_round']} searches)\n{rows[-1]['ours']}\nlottery p4 with the original's slip: "
            f"{adj['lottery_p4_with_original_slip']:.5f}\n\n{text}", fontsize=6, va="top", family="monospace",
            transform=ax.transAxes)
    fig.suptitle(f"Lottery tickets on MNIST-1D (width-{rec['config']['width']} residual MLP; "
                 f"{len(rec['rounds'])} rounds, {rec['config']['trials']} trials)", fontsize=12)
    path = save_figure(fig, out_dir / "lottery.png", dpi=90)

    images = {k[len("image_"):]: np.asarray(v) for k, v in rec["arrays"].items() if k.startswith("image_")}
    names = sorted(images, key=lambda k: (not k.startswith("random"), k))
    fig, axes = plt.subplots(len(names), 1, figsize=(12, 1.3 * len(names) + 0.6), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        img = images[name]
        ax.imshow(1 - img, cmap="gray", aspect="auto", interpolation="nearest", vmin=0, vmax=1)
        ax.set_title(f"{name}: {100 * (1 - img.mean()):.1f}% of first-layer weights pruned (round "
                     f"{rec['reference_round']})", fontsize=9)
        ax.set_xticks([])
        ax.set_ylabel("input")
    return [path, save_figure(fig, out_dir / "lottery_masks.png", dpi=90)]


def report_rows(record: dict) -> list[dict]:
    """Rows for the paper-vs-ours report."""
    s = np.asarray(record["sparsity"])
    lot = np.asarray(record["final"]["lottery"]["test_acc"]).mean(0)
    rnd = np.asarray(record["final"]["random"]["test_acc"]).mean(0)
    i = int(np.argmax(lot))
    ref = record["rounds"].index(record["reference_round"])
    rows = [
        {"quantity": "dense test accuracy (round 0, %)", "paper": "63.5-66", "ours": f"{lot[0]:.1f}"},
        {"quantity": "lottery peak test accuracy (%) at sparsity", "paper": "73-76 at 0.88-0.93",
         "ours": f"{lot[i]:.1f} at {s[i]:.2f}"},
        {"quantity": "lottery / random at round 91 (s = 0.92, %)", "paper": "~74-75 / ~60-62",
         "ours": f"{lot[ref]:.1f} / {rnd[ref]:.1f}"},
    ]
    abl = record["ablations"]["conditions"]
    paper = {"baseline": "70.5 / 63.7 / 59", "flipped": "68.8 / 64.6 / 60.8", "shuffled": "62.8 / 64.6 / 58",
             "reinit": "67.3 / 64 / 58.2"}
    for cond in CONDITIONS:
        c = abl[cond]
        rows.append({"quantity": f"ablation {cond}: plateau lottery / dense / random (%)",
                     "paper": paper[cond] + " (2020)",
                     "ours": f"{c['lottery']['plateau']:.1f} / {c['dense']['plateau']:.1f} / "
                             f"{c['random']['plateau']:.1f}"})
    adj = record["adjacency"]
    rows.append({"quantity": "adjacency p2 / p3 / p4, random", "paper": "0.0072 / 0.0009 / 0.0001 (2020)",
                 "ours": " / ".join(f"{adj['random'][k]['mean']:.5f}" for k in ("p2", "p3", "p4"))})
    rows.append({"quantity": "adjacency p2 / p3 / p4, lottery (correct p4)", "paper": "0.0086 / 0.0022 / 0.00035",
                 "ours": " / ".join(f"{adj['lottery'][k]['mean']:.5f}" for k in ("p2", "p3", "p4"))})
    t = record["timing"]
    per = t["searches_per_round"]
    abl_t = t["ablation"]
    # one program per model type, one after the other: the ablations' wall time is the sum over programs
    abl_s = sum(v["seconds"] for k, v in abl_t.items() if k != "this_process")
    rows.append({"quantity": "runtime per search-round (one trial, one criterion, 1,502 steps)",
                 "paper": "original 6.0 s wall per search-round, 40 min for the 400-round search",
                 "ours": f"{t['seconds_per_round'] / per:.1f} s wall, {t['cpu_seconds_per_round'] / per:.1f} s CPU "
                         f"(compiles included; shared CPU under load); search {t['search_seconds'] / 60:.1f} min "
                         f"for {len(record['rounds'])} rounds x {per} searches"})
    rows.append({"quantity": "runtime of the whole study (search + ablations)",
                 "paper": "issue target <= 20 min; original: 40 min search alone",
                 "ours": f"{(t['search_seconds'] + abl_s) / 60:.1f} min (search {t['search_seconds'] / 60:.1f} + "
                         f"ablations {abl_s / 60:.1f}; rounds and ablation jobs summed over resumed processes)"})
    return rows


def describe_round(cfg: LotteryConfig, r: int, curves: dict, timing: dict) -> str:
    acc = np.ravel(curves["test_acc"][:, -1])
    return (f"round {r} s={cfg.sparsity(r):.3f}: test acc {np.round(acc, 1).tolist()} {timing['seconds']:.1f} s "
            f"(cpu {timing['cpu_seconds']:.1f}), layout {timing['n_units']}x{timing['n_out']} "
            f"cost {timing['cost']:.2f}")
