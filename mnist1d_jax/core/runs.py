"""Whole training runs from a config: ``train(key, data, config)`` and ``train_seeds(keys, data, config)``.

``train`` builds a ``TrainState``, a batch schedule, an evaluation and a selection hook from a `TrainConfig` and
runs the one loop (``core.loop.train_loop``); every piece can be passed in instead. Many seeds are one call,
``train_seeds`` (``jax.vmap`` over keys, compiled once, split over the devices).

Two protocols (``TrainConfig.protocol``):

* ``"harness"``, the original notebook's: batches in fixed sequential order, ``i0 = (s * B) mod N``, ``T + 1``
  updates (s = 0..T), evaluation after the update of every step with ``s % E == 0`` (step 0 included), so
  ``T // E + 1`` evaluation points.
* ``"modern"``: a fresh random permutation of the training set every epoch (``N // B`` full batches per epoch,
  the remainder dropped), the same T + 1 steps and evaluation points, and a held-out validation split
  (required) on which the checkpoint is selected.

Whenever the data carry a validation split, the parameters with the best validation accuracy (first maximum)
are kept and the summary reports the test accuracy at that evaluation. Scalars that do not set shapes
(learning rate, weight decay) may be passed as traced ``hparams``, so a run can be vmapped over them or
differentiated with respect to them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from mnist1d_jax.core.augment import Augment
from mnist1d_jax.core.evaluation import split_metrics
from mnist1d_jax.core.loop import Hook, best_on, train_loop
from mnist1d_jax.core.parallel import replicate, spread_leading, take_leading
from mnist1d_jax.core.schedules import EpochShuffle, Sequential, epochs_needed
from mnist1d_jax.core.step import OPTIMIZERS, create_train_state, cross_entropy, make_optimizer
from mnist1d_jax.data.splits import Data
from mnist1d_jax.nn.models import MODELS, get_model
from mnist1d_jax.runtime.precision import NAMES as PRECISIONS
from mnist1d_jax.runtime.precision import use_precision
from mnist1d_jax.runtime.validation import (
    Config,
    _Invalid,
    boolean,
    choice,
    fail,
    integer,
    option,
    optional,
    positive,
    real,
    tuple_of,
)

Array = jax.Array
PyTree = Any


def _model_kwargs(v):
    if not isinstance(v, tuple) or not all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in v):
        raise _Invalid("must be a tuple of (field name, value) pairs, e.g. (('width', 500),)")
    return v


@dataclasses.dataclass(frozen=True)
class TrainConfig(Config):
    """One training run. Defaults: the Table-1 CNN under the original harness (Adam 1e-2, batch 100,
    T = 6000, evaluation every 250 steps).

    Everything here is static (it sets shapes or the program); ``learning_rate`` and ``weight_decay`` are only
    defaults for the traced ``hparams`` of ``train``. Validated on construction.
    """

    model: str = option("cnn", choice(*MODELS), "a model of the zoo")
    model_kwargs: tuple[tuple[str, Any], ...] = option((), _model_kwargs, "field overrides of the model")
    protocol: str = option("harness", choice("harness", "modern"), "batch order and checkpoint selection")
    optimizer: str = option("adam", choice(*OPTIMIZERS), "the optimiser")
    learning_rate: float = option(1e-2, positive(1e3), "learning rate")
    weight_decay: float = option(0.0, real(0.0, 10.0), "weight decay (coupled L2; decoupled for adamw)")
    momentum: float = option(0.9, real(0.0, 1.0, hi_open=True), "SGD momentum")
    schedule: str = option("constant", choice("constant", "cosine"), "learning-rate schedule over the T + 1 updates")
    batch_size: int = option(100, integer(1), "examples per batch")
    total_steps: int = option(6000, integer(1, 100_000_000), "T: T + 1 updates, as the original harness")
    eval_every: int = option(250, integer(1), "evaluate after every this many steps (step 0 included)")
    eval_at: tuple[int, ...] | None = option(None, optional(tuple_of(integer(0), unique=True, increasing=True)),
                                             "evaluate after exactly these steps instead (e.g. log-spaced)")
    # Training-set augmentation (improved baselines only; all 0 = off, the reproductions): see core.augment.
    augment_shift: int = option(0, integer(0, 10_000), "circular shifts of up to this many positions")
    augment_scale: float = option(0.0, real(0.0, 1.0, hi_open=True), "scaling by 1 + U(-s, s)")
    augment_noise: float = option(0.0, real(0.0, 1e3), "additive N(0, s^2) noise")
    remat: bool = option(False, boolean, "jax.checkpoint the step: flat memory when differentiating a run")
    # None follows the setting in effect where the run is called (precision.resolve: a use_precision block,
    # set_precision / the CLI's --precision, else $MNIST1D_JAX_PRECISION, else float32), so that a study's runs
    # follow the command line.
    precision: str | None = option(None, optional(choice(*PRECISIONS)), "matmul precision of the model's products: "
                                   "float32, tf32 or bf16 (None: the setting in effect, float32 by default)")

    def _check(self) -> None:
        if self.eval_every > self.total_steps:
            fail(self, "eval_every", self.eval_every, f"must be <= total_steps={self.total_steps}: updates after "
                 "the last evaluation would never be evaluated")
        if self.eval_at and self.eval_at[-1] > self.total_steps:
            fail(self, "eval_at", self.eval_at, f"must be steps in 0..total_steps={self.total_steps}")
        fields = {f.name for f in dataclasses.fields(MODELS[self.model])} - {"parent", "name"}
        unknown = sorted(k for k, _ in self.model_kwargs if k not in fields)
        if unknown:
            fail(self, "model_kwargs", self.model_kwargs, f"{unknown} are not fields of {self.model}; use "
                 f"{sorted(fields)}")

    def make_model(self) -> nn.Module:
        return get_model(self.model, **dict(self.model_kwargs))

    @property
    def num_evals(self) -> int:
        return len(self.eval_at) if self.eval_at else self.total_steps // self.eval_every + 1

    @property
    def augmentation(self) -> Augment | None:
        aug = Augment(self.augment_shift, self.augment_scale, self.augment_noise)
        return aug if aug else None


# The augmentation's stream: a key of its own folded from the order key, so that the batch order is the same
# with and without augmentation.
_AUGMENT_STREAM = 0x5EED


def schedule_for(data: Data, config: TrainConfig, order_key: Array):
    """The batch schedule of ``config.protocol`` over ``data``'s training set."""
    n, bsz = data.x.shape[0], config.batch_size
    if bsz > n:
        raise ValueError(f"batch_size {bsz} exceeds the {n} training examples")
    if config.protocol == "harness":
        return Sequential(data.x, data.y, bsz)
    if config.protocol == "modern":
        epochs = epochs_needed(config.total_steps, n, bsz)
        return EpochShuffle(data.x, data.y, bsz, jax.random.split(order_key, epochs))
    raise ValueError(f"protocol={config.protocol!r}: use 'harness' or 'modern'")


def train(key: Array, data: Data, config: TrainConfig = TrainConfig(), hparams: dict[str, Array] | None = None,
          *, model: nn.Module | None = None, mask: PyTree = None, params: PyTree = None,
          loss_fn: Callable = cross_entropy, schedule=None, evaluate: Callable | None = None,
          hook: Hook | None = None):
    """One full training run as a pure function of ``key`` (and of the traced ``hparams``).

    Traced under ``config.precision`` (``precision.use_precision``). Under your own ``jax.jit`` the hardware's
    precision is the one in effect where that jit is called: enter ``use_precision`` around it too, as
    ``train_jit`` and ``train_seeds`` do.

    Args:
      key: PRNG key; split into an ``init`` and a data-``order`` stream.
      data: ``Data`` (``data.splits.prepare_data``); a validation split enables checkpoint selection.
      config: static `TrainConfig`.
      hparams: optional traced ``{"learning_rate": ..., "weight_decay": ...}`` overriding the config.
      model, mask, params: optional model override, lottery-style mask and initial parameters.
      loss_fn, schedule, evaluate, hook: override the config's loss, batch schedule, evaluation
        (``core.evaluation``) and selection (``core.loop``).
    Returns:
      ``(state, metrics, summary)``: the final ``TrainState``; ``metrics`` stacked per evaluation point
      (``step (n_evals,)``, ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` [, ``val_loss``,
      ``val_acc``]; accuracies in %) plus ``batch_loss (T+1,)``; ``summary`` with ``final_test_acc``,
      ``best_test_acc`` (max over evaluations) and, with a validation split, ``selected_test_acc``,
      ``selected_step`` and ``selected_params`` (the best-validation checkpoint).
    """
    if config.protocol == "modern" and data.x_val is None:
        raise ValueError("the modern protocol selects on validation: pass prepare_data(..., val_fraction=0.1)")
    with use_precision(config.precision):
        return _train(key, data, config, hparams, model, mask, params, loss_fn, schedule, evaluate, hook)


def _train(key, data, config, hparams, model, mask, params, loss_fn, schedule, evaluate, hook):
    hp = {"learning_rate": config.learning_rate, "weight_decay": config.weight_decay, **(hparams or {})}
    model = config.make_model() if model is None else model
    tx = make_optimizer(config.optimizer, hp["learning_rate"], hp["weight_decay"], config.momentum,
                        config.schedule, config.total_steps + 1)
    init_key, order_key = jax.random.split(key)
    aug = config.augmentation
    state = create_train_state(init_key, model, tx, params=params, mask=mask, input_length=data.x.shape[1],
                               loss_fn=loss_fn, augment=aug)
    has_val = data.x_val is not None
    if hook is None and has_val:
        hook = best_on("val_acc")
    state, metrics, kept = train_loop(
        state, schedule_for(data, config, order_key) if schedule is None else schedule, config.total_steps + 1,
        eval_every=None if config.eval_at else config.eval_every, first_eval=None if config.eval_at else 0,
        eval_at=config.eval_at or None, evaluate=evaluate or split_metrics(data), hook=hook,
        key=jax.random.fold_in(order_key, _AUGMENT_STREAM) if aug else None, remat=config.remat)
    summary = {}
    if "test_acc" in metrics:
        summary = {"final_test_acc": metrics["test_acc"][-1], "best_test_acc": metrics["test_acc"].max()}
    if has_val and "val_acc" in metrics and kept is not None:
        summary["selected_test_acc"] = metrics["test_acc"][jnp.argmax(metrics["val_acc"])]
        summary["selected_step"] = kept[2]
        summary["selected_params"] = kept[1]
    return state, metrics, summary


def train_seeds(keys: Array, data: Data, config: TrainConfig = TrainConfig(),
                hparams: dict[str, Array] | None = None):
    """Many seeds in one compiled call: ``jax.vmap(train)`` over ``keys (S,)``; every output gains a leading S.

    With several devices (GPUs, or CPU cores after ``backend.use_cpu_cores()``) the seed axis is split over
    them, still one compiled program; after ``jax.distributed.initialize()`` over the devices of every process,
    and every process gets all the results back (NumPy arrays).
    """
    spread, n = spread_leading(keys)
    with use_precision(config.precision):  # around the call: the jit's cache key and lowering see it
        return take_leading(_train_seeds_jit(spread, replicate(data), config, replicate(hparams)), n)


@functools.partial(jax.jit, static_argnames=("config",))
def _train_seeds_jit(keys, data, config, hparams):
    return jax.vmap(lambda k: train(k, data, config, hparams))(keys)


_train_jit = jax.jit(train, static_argnames=("config", "model", "loss_fn", "schedule", "evaluate", "hook"))


def train_jit(key: Array, data: Data, config: TrainConfig = TrainConfig(), hparams: dict[str, Array] | None = None,
              **kwargs):
    """``train`` compiled (``jax.jit``; ``config`` and the keyword overrides static), called under
    ``config.precision`` so that the compiled program's cache key and lowering see the setting. Same arguments
    and results as `train`."""
    with use_precision(config.precision):
        return _train_jit(key, data, config, hparams, **kwargs)


__all__ = ["TrainConfig", "schedule_for", "train", "train_jit", "train_seeds"]
