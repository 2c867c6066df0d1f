"""The pure functional training core: ``TrainState``, ``train_step``, ``evaluate`` and ``train``.

``train(key, data, config)`` is one compiled program: a ``lax.scan`` over evaluation blocks whose body is a
``lax.scan`` over ``eval_every`` steps, so there is no Python loop over steps and no host sync per step. Many
seeds are one call, ``jax.vmap(train, in_axes=(0, None, None))`` (``train_seeds``), compiled once.

Two protocols (``TrainConfig.protocol``):

* ``"harness"``, the original harness H (EXPERIMENTS.md §0.2): batches in fixed sequential order,
  ``i0 = (s * B) mod N``, ``T + 1`` updates (s = 0..T), evaluation after the update of every step with
  ``s % E == 0`` (step 0 included), so ``T // E + 1`` evaluation points. If ``N % B != 0`` the batch that
  crosses the end wraps around to the start (the original would take a short batch there).
* ``"modern"``: a fresh random permutation of the training set every epoch (``N // B`` full batches per
  epoch, the remainder dropped), the same T + 1 steps and evaluation points, and a held-out validation split
  (required) on which the checkpoint is selected.

Whenever the data carry a validation split, the parameters with the best validation accuracy (first maximum)
are kept in the scan carry and returned, and the summary reports the test accuracy at that evaluation. With
the harness protocol, the study gets its leakage-free number from a separate run on ``prepare_data(...,
val_fraction=0.1)`` (train on 90 %, select on the held-out 10 %).

Scalars that do not set shapes (learning rate, weight decay) may be passed as traced ``hparams`` so that a run
can be vmapped over them or differentiated with respect to them (``jax.grad`` through the whole run).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn

from mnist1d_jax.core.parallel import spread_leading, take_leading
from mnist1d_jax.core.step import (  # noqa: F401  (re-exported: the core's public API)
    TrainState,
    apply_mask,
    create_train_state,
    cross_entropy,
    evaluate,
    make_optimizer,
    train_step,
)
from mnist1d_jax.nn.models import get_model

Array = jax.Array
PyTree = Any


# --------------------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------------------
class Data(NamedTuple):
    """Device arrays of one dataset: ``x (N, D) float32``, ``y (N,) int32``, test and optional validation."""

    x: Array
    y: Array
    x_test: Array
    y_test: Array
    x_val: Array | None = None
    y_val: Array | None = None


def _get(ds: Any, name: str):
    return ds[name] if isinstance(ds, dict) or hasattr(ds, "keys") else getattr(ds, name)


def prepare_data(ds: Any, val_fraction: float = 0.0, val_seed: int = 0, permutation=None) -> Data:
    """Host-side preparation: float32/int32 device arrays, optional column permutation and validation split.

    Args:
      ds: anything with ``x, y, x_test, y_test`` (a dataset object, a dict, an ``np.load`` result).
      val_fraction: fraction of the training set held out as validation (``round(N * f)`` examples chosen by
        ``np.random.default_rng(val_seed)``; the remaining training rows keep their original order).
      permutation: optional permutation of the D input positions, applied to every split (shuffled MNIST-1D).
    """
    x = np.asarray(_get(ds, "x"), np.float32)
    y = np.asarray(_get(ds, "y"), np.int32)
    x_test = np.asarray(_get(ds, "x_test"), np.float32)
    y_test = np.asarray(_get(ds, "y_test"), np.int32)
    if permutation is not None:
        perm = np.asarray(permutation)
        x, x_test = x[:, perm], x_test[:, perm]
    if val_fraction > 0:
        n_val = int(round(len(x) * val_fraction))
        val = np.zeros(len(x), bool)
        val[np.random.default_rng(val_seed).choice(len(x), n_val, replace=False)] = True
        return Data(*map(jnp.asarray, (x[~val], y[~val], x_test, y_test, x[val], y[val])))
    return Data(*map(jnp.asarray, (x, y, x_test, y_test)))


# --------------------------------------------------------------------------------------------------------------
# A whole run
# --------------------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One training run. Defaults: the CNN of Table 1 under harness H (EXPERIMENTS.md §2.3).

    Everything here is static (it sets shapes or the program); ``learning_rate`` and ``weight_decay`` are
    only defaults for the traced ``hparams`` of ``train``.
    """

    model: str = "cnn"
    model_kwargs: tuple[tuple[str, Any], ...] = ()  # e.g. (("width", 500),); tuples keep the config hashable
    protocol: str = "harness"  # "harness" | "modern"
    optimizer: str = "adam"
    learning_rate: float = 1e-2
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: str = "constant"  # or "cosine" (decay to 0 over the T + 1 updates)
    batch_size: int = 100
    total_steps: int = 6000  # T: T + 1 updates, as the original harness
    eval_every: int = 250
    # Training-set augmentation (improved baselines only; all 0 = off, the reproductions): every training
    # example of every batch is circularly shifted by a uniform integer in [-augment_shift, augment_shift],
    # scaled by 1 + U(-augment_scale, augment_scale) and gets N(0, augment_noise^2) noise added. Evaluation
    # data are never augmented.
    augment_shift: int = 0
    augment_scale: float = 0.0
    augment_noise: float = 0.0
    remat: bool = False  # jax.checkpoint the step: flat memory when differentiating through long runs

    def make_model(self) -> nn.Module:
        return get_model(self.model, **dict(self.model_kwargs))

    @property
    def num_evals(self) -> int:
        return self.total_steps // self.eval_every + 1

    @property
    def augments(self) -> bool:
        return bool(self.augment_shift or self.augment_scale or self.augment_noise)


def augment_batch(key: Array, x: Array, config: TrainConfig) -> Array:
    """Random circular shift, scaling and additive noise of each row of ``x (B, D)`` (see ``TrainConfig``)."""
    k_shift, k_scale, k_noise = jax.random.split(key, 3)
    b, d = x.shape
    if config.augment_shift:
        shift = jax.random.randint(k_shift, (b, 1), -config.augment_shift, config.augment_shift + 1)
        x = jnp.take_along_axis(x, (jnp.arange(d)[None, :] - shift) % d, axis=1)  # roll row i by shift[i]
    if config.augment_scale:
        x = x * (1.0 + jax.random.uniform(k_scale, (b, 1), x.dtype, -config.augment_scale, config.augment_scale))
    if config.augment_noise:
        x = x + config.augment_noise * jax.random.normal(k_noise, x.shape, x.dtype)
    return x


def _batch_fn(data: Data, config: TrainConfig, order_key: Array):
    """``batch(s) -> (x, y)`` for step s of the chosen protocol."""
    n, bsz = data.x.shape[0], config.batch_size
    if bsz > n:
        raise ValueError(f"batch_size {bsz} exceeds the {n} training examples")
    if config.augments:
        plain = _batch_fn(data, dataclasses.replace(config, augment_shift=0, augment_scale=0.0, augment_noise=0.0),
                          order_key)
        aug_key = jax.random.fold_in(order_key, 0x5EED)  # a stream of its own, so the batch order is unchanged

        def augmented(s):
            x, y = plain(s)
            return augment_batch(jax.random.fold_in(aug_key, s), x, config), y
        return augmented
    if config.protocol == "harness":
        if n % bsz == 0:
            def batch(s):
                i0 = (s * bsz) % n
                return (jax.lax.dynamic_slice_in_dim(data.x, i0, bsz),
                        jax.lax.dynamic_slice_in_dim(data.y, i0, bsz))
        else:
            def batch(s):
                idx = (s * bsz + jnp.arange(bsz)) % n
                return data.x[idx], data.y[idx]
        return batch
    if config.protocol == "modern":
        per_epoch = n // bsz
        n_epochs = config.total_steps // per_epoch + 1
        # All epoch permutations up front (n_epochs x N int32, a few MB): one cheap gather per step.
        order = jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(order_key, n_epochs))

        def batch(s):
            idx = jax.lax.dynamic_slice_in_dim(order[s // per_epoch], (s % per_epoch) * bsz, bsz)
            return data.x[idx], data.y[idx]
        return batch
    raise ValueError(f"protocol={config.protocol!r}: use 'harness' or 'modern'")


def _evaluator(data: Data):
    """``eval(state) -> dict`` of train/val/test loss and accuracy, in one forward pass over all splits."""
    parts = [("train", data.x, data.y), ("test", data.x_test, data.y_test)]
    if data.x_val is not None:
        parts.insert(1, ("val", data.x_val, data.y_val))
    x_all = jnp.concatenate([p[1] for p in parts])
    y_all = jnp.concatenate([p[2] for p in parts])
    bounds = np.cumsum([0] + [p[1].shape[0] for p in parts])

    def ev(state: TrainState) -> dict[str, Array]:
        logits = state.apply_fn({"params": state.effective_params()}, x_all)
        losses = optax.softmax_cross_entropy_with_integer_labels(logits, y_all)
        correct = (jnp.argmax(logits, -1) == y_all).astype(jnp.float32)
        out = {}
        for (name, _, _), a, b in zip(parts, bounds[:-1], bounds[1:], strict=True):
            out[f"{name}_loss"] = losses[a:b].mean()
            out[f"{name}_acc"] = 100.0 * correct[a:b].mean()
        return out

    return ev


def train(key: Array, data: Data, config: TrainConfig = TrainConfig(), hparams: dict[str, Array] | None = None,
          *, model: nn.Module | None = None, mask: PyTree = None, params: PyTree = None):
    """One full training run as a pure function of ``key`` (and of the traced ``hparams``).

    Args:
      key: PRNG key; split into an ``init`` and a data-``order`` stream.
      data: ``Data`` (from ``prepare_data``); a validation split enables checkpoint selection.
      config: static ``TrainConfig``.
      hparams: optional traced ``{"learning_rate": ..., "weight_decay": ...}`` overriding the config.
      model, mask, params: optional model override, lottery mask and initial parameters.
    Returns:
      ``(state, metrics, summary)``: the final ``TrainState``; ``metrics`` stacked per evaluation point
      (``step (n_evals,)``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` [, ``val_loss``,
      ``val_acc``]; accuracies in %) plus ``batch_loss (T+1,)``; ``summary`` with ``final_test_acc``,
      ``best_test_acc`` (max over evaluations) and, with a validation split, ``selected_test_acc``,
      ``selected_step`` and ``selected_params`` (the best-validation checkpoint).
    """
    if config.protocol == "modern" and data.x_val is None:
        raise ValueError("the modern protocol selects on validation: pass prepare_data(..., val_fraction=0.1)")
    hp = {"learning_rate": config.learning_rate, "weight_decay": config.weight_decay, **(hparams or {})}
    model = config.make_model() if model is None else model
    tx = make_optimizer(config.optimizer, hp["learning_rate"], hp["weight_decay"], config.momentum,
                        config.schedule, config.total_steps + 1)
    init_key, order_key = jax.random.split(key)
    state = create_train_state(init_key, model, tx, params=params, mask=mask, input_length=data.x.shape[1])
    batch = _batch_fn(data, config, order_key)
    ev = _evaluator(data)
    has_val = data.x_val is not None

    def step(state, s):
        return train_step(state, batch(s))

    if config.remat:
        step = jax.checkpoint(step)

    def steps(state, start, length):  # only for the tail when E does not divide T
        state, m = jax.lax.scan(step, state, start + jnp.arange(length))
        return state, m["loss"]

    def select(carry, state, ev_out, s):
        best_acc, best_params, best_step = carry
        better = ev_out["val_acc"] > best_acc
        best_params = jax.tree_util.tree_map(lambda a, b: jnp.where(better, a, b), state.params, best_params)
        return (jnp.where(better, ev_out["val_acc"], best_acc), best_params, jnp.where(better, s, best_step))

    n_blocks = config.total_steps // config.eval_every
    e_len = config.eval_every

    def maybe_step(state, s):
        # Block 0 covers steps -E+1 .. 0 so that every block has E steps and the step and the evaluation are
        # compiled once; the steps s < 0 are skipped by a cond (a branch, not wasted work).
        out_shape = jax.eval_shape(step, state, s)[1]
        skip = lambda st, _: (st, jax.tree_util.tree_map(lambda a: jnp.zeros(a.shape, a.dtype), out_shape))  # noqa
        return jax.lax.cond(s >= 0, step, skip, state, s)

    def block(carry, k):  # steps (k-1)E+1 .. kE, then evaluate
        state, sel = carry
        state, m = jax.lax.scan(maybe_step, state, (k - 1) * e_len + 1 + jnp.arange(e_len))
        e = ev(state)
        if has_val:
            sel = select(sel, state, e, k * e_len)
        return (state, sel), (e, m["loss"])

    sel = (jnp.float32(-1.0), state.params, jnp.int32(0)) if has_val else None
    (state, sel), (metrics, losses) = jax.lax.scan(block, (state, sel), jnp.arange(n_blocks + 1))
    batch_loss = [losses.reshape(-1)[e_len - 1:]]
    tail = config.total_steps - n_blocks * e_len
    if tail:
        state, tail_losses = steps(state, n_blocks * e_len + 1, tail)
        batch_loss.append(tail_losses)

    metrics["step"] = jnp.arange(n_blocks + 1) * e_len
    metrics["batch_loss"] = jnp.concatenate(batch_loss)
    summary = {"final_test_acc": metrics["test_acc"][-1], "best_test_acc": metrics["test_acc"].max()}
    if has_val:
        summary["selected_test_acc"] = metrics["test_acc"][jnp.argmax(metrics["val_acc"])]
        summary["selected_step"] = sel[2]
        summary["selected_params"] = sel[1]
    return state, metrics, summary


def train_seeds(keys: Array, data: Data, config: TrainConfig = TrainConfig(),
                hparams: dict[str, Array] | None = None):
    """Many seeds in one compiled call: ``jax.vmap(train)`` over ``keys (S,)``; outputs gain a leading S axis.

    With several devices (GPUs, or CPU cores after ``mnist1d_jax.core.parallel.use_cpu_cores()``) the seed axis is
    split over them, still one compiled program; each seed's numbers are the same either way.
    """
    spread, n = spread_leading(keys)
    return take_leading(_train_seeds_jit(spread, data, config, hparams), n)


@functools.partial(jax.jit, static_argnames=("config",))
def _train_seeds_jit(keys, data, config, hparams):
    return jax.vmap(lambda k: train(k, data, config, hparams))(keys)


train_jit = jax.jit(train, static_argnames=("config", "model"))
