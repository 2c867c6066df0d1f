"""The train step as a library function: ``TrainState``, ``create_train_state``, ``train_step``, ``evaluate``.

``train_step(state, (x, y), key=None) -> (state, metrics)`` is pure and works under ``jit``, ``vmap`` (many
seeds or hyperparameters), ``grad`` (metalearning) and ``lax.scan``, with any optax optimiser and any Flax model
mapping ``(B, D) -> (B, K)`` logits. What a state computes is fixed when it is made and is static (part of its
pytree structure, so one compiled step serves every state made the same way): the model, the optimiser, the
loss ``loss_fn(logits, labels) -> ()`` and an optional batch augmentation ``augment(key, x) -> x``. A ``mask``
pytree shaped like the params is applied as ``params * mask`` in the forward pass (lottery tickets, padded
widths), so masked entries get zero gradient and their Adam moments stay zero.

States made with the same model and optimiser object stack (``jax.tree.map(lambda *a: jnp.stack(a),
*states)``) and vmap. A learning rate in the vmapped axis: make the optimiser with
``optax.inject_hyperparams`` (its hyperparameters then live in the optimiser state) and set them per run with
`set_hyperparams`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax import struct

from mnist1d_jax.nn.init import init_params

Array = jax.Array
PyTree = Any


# --------------------------------------------------------------------------------------------------------------
# Losses: ``loss(logits (B, K), labels (B,)) -> ()``
# --------------------------------------------------------------------------------------------------------------
def cross_entropy(logits: Array, labels: Array) -> Array:
    """Mean softmax cross-entropy (nats) with integer labels; ``(B, K), (B,) -> ()``.

    Same value as ``optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()``, written with a
    one-hot mask: its gradient is then ``softmax - one_hot``, one elementwise loop, where the integer-label
    form's gradient is a scatter (about a fifth of a CNN training step on a CPU).
    """
    return -jnp.sum(jax.nn.log_softmax(logits) * jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype),
                    axis=-1).mean()


def mse_onehot(logits: Array, labels: Array) -> Array:
    """PyTorch's ``MSELoss()`` on one-hot targets: the mean over batch and outputs of ``(logits - onehot)^2``."""
    return jnp.mean((logits - jax.nn.one_hot(labels, logits.shape[-1])) ** 2)


LOSSES: dict[str, Callable[[Array, Array], Array]] = {"nll": cross_entropy, "mse": mse_onehot}


def apply_mask(params: PyTree, mask: PyTree | None) -> PyTree:
    """Effective parameters ``params * mask`` (``mask=None``: the params themselves)."""
    return params if mask is None else jax.tree_util.tree_map(lambda p, m: p * m, params, mask)


# --------------------------------------------------------------------------------------------------------------
# The state and the step
# --------------------------------------------------------------------------------------------------------------
@struct.dataclass
class TrainState:
    """Everything that changes during training, as a pytree; ``model``, ``tx``, ``loss_fn``, ``augment`` and
    ``objective`` are static (compared by value, so equal configurations share one compiled step).

    ``objective(state, params, batch, key) -> (loss, metrics)`` replaces the supervised loss for training
    without labels (the self-supervised study's contrastive loss); default None: ``loss_fn(logits, y)``.
    """

    step: Array
    params: PyTree
    opt_state: optax.OptState
    mask: PyTree = None
    model: nn.Module = struct.field(pytree_node=False, default=None)
    tx: optax.GradientTransformation = struct.field(pytree_node=False, default=None)
    loss_fn: Callable = struct.field(pytree_node=False, default=cross_entropy)
    augment: Callable | None = struct.field(pytree_node=False, default=None)
    objective: Callable | None = struct.field(pytree_node=False, default=None)

    def effective_params(self) -> PyTree:
        """The parameters the forward pass sees (``params * mask``)."""
        return apply_mask(self.params, self.mask)

    def apply_fn(self, variables: dict, x: Array, **kwargs) -> Array:
        """``model.apply(variables, x)``: the logits ``(B, K)`` of inputs ``(B, D)``."""
        return self.model.apply(variables, x, **kwargs)

    def logits(self, x: Array, params: PyTree | None = None) -> Array:
        """Logits of ``x (B, D)`` under ``params`` (default: the state's), with the mask applied."""
        params = self.params if params is None else params
        return self.model.apply({"params": apply_mask(params, self.mask)}, x)


def create_train_state(key: Array, model: nn.Module, tx: optax.GradientTransformation, *, params: PyTree = None,
                       mask: PyTree = None, input_length: int = 40, loss_fn: Callable = cross_entropy,
                       augment: Callable | None = None, objective: Callable | None = None) -> TrainState:
    """Initialise ``model`` with ``key`` (or take ``params`` as given) and a fresh optimiser state.

    Args:
      key: PRNG key of the init (unused when ``params`` is given).
      model: a Flax module mapping ``(B, input_length)`` to logits.
      tx: the optax optimiser; reuse one object for states that should stack and share a compile.
      mask: optional 0/1 pytree like the params (``params * mask`` in the forward pass).
      loss_fn: ``loss(logits, labels) -> ()``, e.g. `cross_entropy` (default) or `mse_onehot`.
      augment: optional ``augment(key, x) -> x`` applied to every training batch (``train_step`` then needs a
        key), e.g. ``core.augment.Augment``.
      objective: optional ``objective(state, params, batch, key) -> (loss, metrics)`` instead of the supervised
        loss (see ``TrainState``).
    """
    if params is None:
        params = init_params(model, key, input_length)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), mask=mask,
                      model=model, tx=tx, loss_fn=loss_fn, augment=augment, objective=objective)


def train_step(state: TrainState, batch: tuple[Array, Array], key: Array | None = None
               ) -> tuple[TrainState, dict[str, Array]]:
    """One optimiser update on ``batch = (x (B, D), y (B,))``.

    Args:
      key: randomness of this step, needed when the state augments its batches (``augment(key, x)``); the
        model gets ``fold_in(key, 1)`` as its ``"noise"`` / ``"dropout"`` stream.
    Returns:
      the new state and ``{"loss", "acc"}`` of the batch *before* the update (``acc`` in %, as every accuracy
      of the package: ``evaluate``, ``core.evaluation``, ``train``, ``train_seeds``, ``sweep_widths``), or
      ``{"loss", ...}`` of the state's ``objective``.
    """
    if state.objective is not None:
        def loss_of(params):
            return state.objective(state, apply_mask(params, state.mask), batch, key)
    else:
        x, y = batch
        rngs = None
        if state.augment is not None:
            if key is None:
                raise ValueError("this state augments its batches: pass train_step a key")
            x = state.augment(key, x)
        if key is not None:
            model_key = jax.random.fold_in(key, 1)
            rngs = {"noise": model_key, "dropout": model_key}

        def loss_of(params):
            variables = {"params": apply_mask(params, state.mask)}
            logits = state.model.apply(variables, x) if rngs is None else state.model.apply(variables, x, rngs=rngs)
            return state.loss_fn(logits, y), {"acc": percent_correct(logits, y)}

    (loss, metrics), grads = jax.value_and_grad(loss_of, has_aux=True)(state.params)
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state), {"loss": loss, **metrics}


def evaluate(state: TrainState, x: Array, y: Array) -> dict[str, Array]:
    """``{"loss", "acc"}``: the state's loss (its ``loss_fn``) and accuracy (in %, 0-100) on ``x (N, D), y (N,)``,
    in one forward pass of the masked parameters."""
    logits = state.logits(x)
    return {"loss": state.loss_fn(logits, y), "acc": percent_correct(logits, y)}


def percent_correct(logits: Array, y: Array) -> Array:
    """The accuracy of ``logits (N, K)`` on labels ``y (N,)`` in % (the package's one unit for accuracy)."""
    return 100.0 * jnp.mean(jnp.argmax(logits, -1) == y)


# --------------------------------------------------------------------------------------------------------------
# Optimisers
# --------------------------------------------------------------------------------------------------------------
OPTIMIZERS = ("adam", "adamw", "sgd", "lion")


def make_optimizer(name: str = "adam", learning_rate=1e-2, weight_decay=0.0, momentum: float = 0.9,
                   schedule: str = "constant", total_steps: int | None = None) -> optax.GradientTransformation:
    """Adam, SGD with momentum or Lion (Chen et al. 2023, optax's ``lion``, β 0.9 / 0.99), with PyTorch's
    *coupled* weight decay (L2 added to the gradient), or AdamW (decoupled).

    ``learning_rate`` and ``weight_decay`` may be traced arrays (vmap or differentiate through them). A
    Python ``weight_decay == 0`` skips the decay transform. ``schedule="cosine"`` decays the learning rate to 0
    over ``total_steps`` updates (the improved baselines; never the reproductions).
    """
    if schedule == "cosine":
        if not total_steps:
            raise ValueError("a cosine schedule needs total_steps")
        learning_rate = optax.cosine_decay_schedule(learning_rate, total_steps)
    elif schedule != "constant":
        raise ValueError(f"schedule={schedule!r}: use 'constant' or 'cosine'")
    if name == "adamw":  # decoupled weight decay (Loshchilov & Hutter), scaled by the learning rate
        return optax.adamw(learning_rate, weight_decay=weight_decay)
    if name == "adam":
        base = optax.adam(learning_rate)
    elif name == "sgd":
        base = optax.sgd(learning_rate, momentum=momentum or None)
    elif name == "lion":
        base = optax.lion(learning_rate)
    else:
        raise ValueError(f"optimizer={name!r}: use one of {', '.join(OPTIMIZERS)}")
    if isinstance(weight_decay, (int, float)) and weight_decay == 0:
        return base
    return optax.chain(optax.add_decayed_weights(weight_decay), base)


def set_hyperparams(state: TrainState, **values) -> TrainState:
    """A copy of ``state`` whose ``optax.inject_hyperparams`` optimiser uses ``values`` (e.g. a learning rate
    per run of a stacked state: ``set_hyperparams(states, learning_rate=jnp.array([1e-3, 1e-2]))``)."""
    hyper = getattr(state.opt_state, "hyperparams", None)
    if hyper is None:
        raise ValueError("the state's optimiser has no hyperparams: make it with optax.inject_hyperparams(...)")
    unknown = sorted(set(values) - set(hyper))
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {unknown}; the optimiser has {sorted(hyper)}")
    new = dict(hyper)
    for name, value in values.items():
        new[name] = jnp.asarray(value, jnp.asarray(hyper[name]).dtype)
    return state.replace(opt_state=state.opt_state._replace(hyperparams=new))


__all__ = ["LOSSES", "OPTIMIZERS", "TrainState", "apply_mask", "create_train_state", "cross_entropy", "evaluate",
           "make_optimizer", "mse_onehot", "set_hyperparams", "train_step"]
