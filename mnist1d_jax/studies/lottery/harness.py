"""What every training run of the lottery study shares: its data, its initial weights, the original harness on
compacted parameters, and the two compiled programs (one round of all searches; a batch of ablation runs), each
split over the devices along its run axis by `run_sharded`."""

from __future__ import annotations

import functools

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
from mnist1d_jax.data.splits import Data, prepare_data
from mnist1d_jax.nn.init import init_params
from mnist1d_jax.nn.models import MLP
from mnist1d_jax.studies.lottery.config import LotteryConfig


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


def run_sharded(fn, runs, shared, **static):
    """``fn(*runs, *shared, **static)`` as one program whose run axis (the leading axis of every leaf of
    ``runs``) is split over the devices; returns the outputs of the real runs as NumPy arrays."""
    spread, n = spread_leading(runs)
    return jax.device_get(take_leading(fn(*spread, *replicate(shared), **static), n))


def stack_trees(trees):
    """One pytree whose every leaf stacks the matching leaves of `trees` along a new leading (run) axis."""
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *trees)


def unstack_tree(tree, n):
    """The `n` pytrees (NumPy leaves) along the leading (run) axis of `tree`: `stack_trees` undone."""
    return [jax.tree_util.tree_map(lambda a, i=i: np.asarray(a[i]), tree) for i in range(n)]


def lottery_data(seed: int = 42, permutation=None, flip: bool = False, classes=None):
    """(x, y, x_test, y_test) of the dataset of `seed`, the kept digits only under a class subset `classes`."""
    data = prepare_data(get_dataset(DatasetConfig(seed=seed)), permutation=permutation, flip=flip, classes=classes)
    return tuple(data[:4])


def theta0(cfg: LotteryConfig, seed: int):
    """Initial weights of the width-``cfg.width`` residual MLP, PyTorch-default init from ``key(seed)``."""
    return init_params(MLP(width=cfg.width, depth=2, residual=True), jax.random.key(seed))

