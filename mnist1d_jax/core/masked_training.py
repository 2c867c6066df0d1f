"""One run of a width sweep: train a (padded, masked) model, plainly (`train_masked`) or with per-example loss
weights (`train_weighted`), under the static settings of `SweepConfig`.

Both are pure functions of ``(params, mask, order_key, x (N, D), y (N,), x_test, y_test)`` that
`mnist1d_jax.core.sweeps` vmaps over the (width, seed) runs of a width bucket; ``mask`` (1 on real units, 0 on
padded ones, as ``TrainState.mask``) keeps the padded units at zero, so a padded run trains as the real width.

Training (the double-descent protocol): SGD with momentum, a fresh shuffle every epoch (``N // B`` batches),
``epochs * N // B`` steps, one evaluation at the end (train error against the labels it was trained on), or
after each of ``eval_epochs`` (epoch-wise curves, e.g. log-spaced). Loss ``"nll"`` (softmax cross-entropy) or
``"mse"`` (mean over batch and outputs of ``(logits - onehot)^2``). ``weigh`` computes per-example loss weights
at every step (`train_weighted`: reweighting, curricula).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from mnist1d_jax.core.evaluation import error_metrics
from mnist1d_jax.core.loop import train_loop
from mnist1d_jax.core.schedules import EpochShuffle
from mnist1d_jax.core.step import LOSSES, create_train_state, make_optimizer, percent_correct, train_step
from mnist1d_jax.runtime.precision import NAMES as PRECISIONS
from mnist1d_jax.runtime.validation import Config, choice, fail, integer, option, optional, positive, real, tuple_of

Array = jax.Array
PyTree = Any


@dataclasses.dataclass(frozen=True)
class SweepConfig(Config):
    """Static settings of one width sweep; defaults are the paper's double-descent protocol. Validated."""

    optimizer: str = option("sgd", choice("sgd", "adam", "adamw"), "the optimiser")
    learning_rate: float = option(0.01, positive(1e3), "learning rate")
    momentum: float = option(0.9, real(0.0, 1.0, hi_open=True), "SGD momentum")
    batch_size: int = option(100, integer(1), "examples per batch")
    epochs: int = option(500, integer(1, 10_000_000), "training epochs")
    loss: str = option("nll", choice("nll", "mse"), "softmax cross-entropy or MSE on one-hot targets")
    eval_chunk: int = option(4000, integer(1), "examples per forward pass at the final evaluation (memory)")
    eval_epochs: tuple[int, ...] | None = option(None, optional(tuple_of(integer(1), unique=True, increasing=True)),
                                                 "evaluate after these epochs (None: once, at the end)")
    precision: str | None = option(None, optional(choice(*PRECISIONS)), "matmul precision: float32, tf32 or bf16 "
                                   "(None: the setting in effect, float32 by default; see precision.py)")

    def _check(self) -> None:
        if self.eval_epochs and self.eval_epochs[-1] > self.epochs:
            fail(self, "eval_epochs", self.eval_epochs, f"must be <= epochs={self.epochs}")


def train_masked(params: PyTree, mask: PyTree, order_key: Array, x: Array, y: Array, x_test: Array,
                 y_test: Array, *, model, config: SweepConfig) -> dict[str, Array]:
    """Train one (padded, masked) model for ``config.epochs`` shuffled epochs; evaluate once at the end, or after
    each epoch of ``config.eval_epochs``.

    Epoch e's permutation is drawn from ``fold_in(order_key, e)``. Returns scalars (``(K,)`` arrays, one value per
    evaluated epoch, with ``eval_epochs``): ``train_error`` / ``test_error`` (%), ``train_loss`` / ``test_loss``
    (the training loss), ``train_nll`` / ``test_nll`` (cross-entropy, whatever the training loss).
    """
    loss_fn = LOSSES[config.loss]
    tx = make_optimizer(config.optimizer, config.learning_rate, 0.0, config.momentum)
    state = create_train_state(None, model, tx, params=params, mask=mask, loss_fn=loss_fn)
    per_epoch = x.shape[0] // config.batch_size
    epoch_keys = jax.vmap(lambda e: jax.random.fold_in(order_key, e))(jnp.arange(config.epochs))
    evaluate = error_metrics({"train": (x, y), "test": (x_test, y_test)}, loss_fn, config.eval_chunk)
    at = None if config.eval_epochs is None else [e * per_epoch - 1 for e in config.eval_epochs]
    _, metrics, _ = train_loop(state, EpochShuffle(x, y, config.batch_size, epoch_keys),
                               config.epochs * per_epoch, eval_at=at, evaluate=evaluate)
    pick = (lambda v: v[0]) if at is None else (lambda v: v)
    return {f"{split}_{k}": pick(metrics[f"{split}_{k}"]) for split in ("train", "test")
            for k in ("error", "loss", "nll")}


WEIGH_STREAM = 2**31 - 1  # step t's weighting key is fold_in(fold_in(order_key, WEIGH_STREAM), t): never an epoch's


class StatefulWeigh(NamedTuple):
    """Per-example loss weights with a state carried through training (a learned weighting net and its optimiser).

    ``init(key) -> state`` (called inside each vmapped run, so every run gets its own); ``weigh(state, params,
    mask, (x_b (B, D), y_b (B,)), key) -> (state, w (B,))``. A plain ``weigh(params, mask, batch, key)`` is the
    stateless case.
    """

    init: Callable[[Array], PyTree]
    weigh: Callable[..., tuple[PyTree, Array]]


def train_weighted(params: PyTree, mask: PyTree, order_key: Array, x: Array, y: Array, x_test: Array,
                   y_test: Array, *, model, config: SweepConfig, weigh: Callable) -> dict[str, Array]:
    """`train_masked` with a per-example weighted loss: every step minimises ``sum_i w_i * loss_i`` over its
    batch, where ``w = weigh(params, mask, (x_b (B, D), y_b (B,)), key) (B,)`` is computed from the current
    (padded) params before the update and treated as a constant (or a `StatefulWeigh`, whose state the scan
    carries) (learned or metalearned example weights;
    ``w = 1/B`` everywhere is plain training: the same batches and, up to summation order, the same numbers).

    The batches are `train_masked`'s (epoch e's permutation from ``fold_in(order_key, e)``, ``N // B`` batches);
    the weighting key of step t is ``fold_in(fold_in(order_key, WEIGH_STREAM), t)``. One evaluation at the end
    (``eval_epochs`` is refused). Returns `train_masked`'s scalars, ``example_weight (N,)``: the mean weight each
    training example got over the steps it was in, and ``example_kept (N,)``: the share of those steps in which
    its weight was positive (both 0 if never drawn).
    """
    if config.eval_epochs is not None:
        raise ValueError("train_weighted evaluates once, at the end: eval_epochs must be None")
    loss_fn = LOSSES[config.loss]
    per_example = jax.vmap(lambda logits, label: loss_fn(logits[None], label[None]))

    def weighted_loss(state, effective, batch, key):  # `effective`: the masked params (train_step applies the mask)
        xb, yb, w = batch
        logits = state.model.apply({"params": effective}, xb)
        return jnp.sum(w * per_example(logits, yb)), {"acc": percent_correct(logits, yb)}

    tx = make_optimizer(config.optimizer, config.learning_rate, 0.0, config.momentum)
    state = create_train_state(None, model, tx, params=params, mask=mask, loss_fn=loss_fn, objective=weighted_loss)
    n, b = x.shape[0], config.batch_size
    per_epoch = n // b
    weigh_key = jax.random.fold_in(order_key, WEIGH_STREAM)
    stateless = weigh
    if not isinstance(weigh, StatefulWeigh):
        weigh = StatefulWeigh(lambda key: (), lambda ws, *args: (ws, stateless(*args)))
    # the weigher's init key: the last index of the weighting stream, which no step reaches
    wstate = weigh.init(jax.random.fold_in(weigh_key, 2**31 - 1))

    def epoch(carry, e):
        perm = jax.random.permutation(jax.random.fold_in(order_key, e), n)

        def step(carry, i):
            state, wstate, total, kept, seen = carry
            rows = jax.lax.dynamic_slice_in_dim(perm, i * b, b)
            xb, yb = x[rows], y[rows]
            key = jax.random.fold_in(weigh_key, e * per_epoch + i)
            wstate, w = weigh.weigh(wstate, state.params, state.mask, (xb, yb), key)
            w = jax.lax.stop_gradient(w)
            state, _ = train_step(state, (xb, yb, w))
            return (state, wstate, total.at[rows].add(w), kept.at[rows].add((w > 0).astype(jnp.float32)),
                    seen.at[rows].add(1.0)), None

        return jax.lax.scan(step, carry, jnp.arange(per_epoch))[0], None

    zeros = jnp.zeros(n, jnp.float32)
    (state, _, total, kept, seen), _ = jax.lax.scan(epoch, (state, wstate, zeros, zeros, zeros),
                                                    jnp.arange(config.epochs))
    out = error_metrics({"train": (x, y), "test": (x_test, y_test)}, loss_fn, config.eval_chunk)(state)
    seen = jnp.maximum(seen, 1.0)
    return {**out, "example_weight": total / seen, "example_kept": kept / seen}
