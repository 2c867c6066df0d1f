"""The train step as a library function: ``TrainState``, ``create_train_state``, ``train_step``, ``evaluate``.

Use it in your own JAX code: ``train_step(state, (x, y)) -> (state, metrics)`` is pure and works under ``jit``,
``vmap`` (many seeds or hyperparameters), ``grad`` (metalearning) and ``lax.scan``, with any optax optimiser and
any Flax model mapping ``(B, D) -> (B, K)`` logits. An optional ``mask`` pytree shaped like the params is
applied as ``params * mask`` in the forward pass (lottery tickets, padded widths). ``mnist1d_jax.core.loop`` builds
whole runs from it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn
from flax import struct

from mnist1d_jax.nn.models import init_params

Array = jax.Array
PyTree = Any


# --------------------------------------------------------------------------------------------------------------
def cross_entropy(logits: Array, labels: Array) -> Array:
    """Mean softmax cross-entropy with integer labels; ``(B, K), (B,) -> ()``.

    Same value as ``optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()``, written with a
    one-hot mask: its gradient is then ``softmax - one_hot``, one elementwise loop, where the integer-label
    form's gradient is a scatter (about a fifth of a CNN training step on a CPU).
    """
    return -jnp.sum(jax.nn.log_softmax(logits) * jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype),
                    axis=-1).mean()


@struct.dataclass
class TrainState:
    """Everything that changes during training, as a pytree; ``apply_fn``, ``tx`` and ``loss_fn`` are static.

    ``mask`` is None or a pytree shaped like ``params``: the forward pass uses ``params * mask`` (lottery
    tickets, padded widths), so masked entries get zero gradient and their Adam moments stay zero.
    """

    step: Array
    params: PyTree
    opt_state: optax.OptState
    mask: PyTree = None
    apply_fn: Callable = struct.field(pytree_node=False, default=None)
    tx: optax.GradientTransformation = struct.field(pytree_node=False, default=None)
    loss_fn: Callable = struct.field(pytree_node=False, default=cross_entropy)

    def effective_params(self) -> PyTree:
        """The parameters the forward pass sees (``params * mask``)."""
        return apply_mask(self.params, self.mask)


def apply_mask(params: PyTree, mask: PyTree | None) -> PyTree:
    return params if mask is None else jax.tree_util.tree_map(lambda p, m: p * m, params, mask)


def create_train_state(key: Array, model: nn.Module, tx: optax.GradientTransformation, *, params: PyTree = None,
                       mask: PyTree = None, input_length: int = 40,
                       loss_fn: Callable = cross_entropy) -> TrainState:
    """Initialise ``model`` with ``key`` (or take ``params`` as given) and a fresh optimiser state."""
    if params is None:
        params = init_params(model, key, input_length)

    def apply_fn(variables, x):
        return model.apply(variables, x)

    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), mask=mask,
                      apply_fn=apply_fn, tx=tx, loss_fn=loss_fn)


def train_step(state: TrainState, batch: tuple[Array, Array]) -> tuple[TrainState, dict[str, Array]]:
    """One optimiser update on ``batch = (x (B, D), y (B,))``; returns the new state and the batch's loss and
    accuracy *before* the update. Pure: works under ``jit``, ``vmap``, ``grad`` and ``lax.scan``."""
    x, y = batch

    def loss_of(params):
        logits = state.apply_fn({"params": apply_mask(params, state.mask)}, x)
        return state.loss_fn(logits, y), logits

    (loss, logits), grads = jax.value_and_grad(loss_of, has_aux=True)(state.params)
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    acc = jnp.mean(jnp.argmax(logits, -1) == y)
    return state.replace(step=state.step + 1, params=params, opt_state=opt_state), {"loss": loss, "accuracy": acc}


def evaluate(state: TrainState, x: Array, y: Array) -> dict[str, Array]:
    """Loss and accuracy (fraction) of the masked parameters on ``x (N, D), y (N,)`` in one forward pass."""
    logits = state.apply_fn({"params": state.effective_params()}, x)
    return {"loss": state.loss_fn(logits, y), "accuracy": jnp.mean(jnp.argmax(logits, -1) == y)}


def make_optimizer(name: str = "adam", learning_rate=1e-2, weight_decay=0.0, momentum: float = 0.9,
                   schedule: str = "constant", total_steps: int | None = None):
    """Adam or SGD with momentum, with PyTorch's *coupled* weight decay (L2 added to the gradient), or AdamW.

    ``learning_rate`` and ``weight_decay`` may be traced arrays (vmap or differentiate through them). A
    Python ``weight_decay == 0`` skips the decay transform. ``schedule="cosine"`` decays the learning rate to 0
    over ``total_steps`` updates (used by the improved baselines, never by the reproductions).
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
    else:
        raise ValueError(f"optimizer={name!r}: use 'adam', 'adamw' or 'sgd'")
    if isinstance(weight_decay, (int, float)) and weight_decay == 0:
        return base
    return optax.chain(optax.add_decayed_weights(weight_decay), base)
