"""Inner problems as small task objects that any meta-gradient method can take.

A task is ``init(key) -> params`` and ``loss(params, batch) -> ()``; the meta-parameters enter through the
inner step (``meta.make_inner_step``) or the loss (write ``loss(meta, params, batch)`` for that). Tasks built on
the model zoo initialise with the one PyTorch-default init.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
from flax import linen as nn

from mnist1d_jax.core.step import cross_entropy
from mnist1d_jax.nn.init import init_params

Array = jax.Array
PyTree = Any


class Task(NamedTuple):
    """An inner problem: ``init(key) -> params`` and ``loss(params, batch) -> ()`` (``batch = (x, y)``)."""

    init: Callable[[Array], PyTree]
    loss: Callable[[PyTree, tuple[Array, Array]], Array]


def classifier_task(model: nn.Module, loss_fn: Callable = cross_entropy, input_length: int = 40) -> Task:
    """A zoo model trained on ``(x (B, D), y (B,))`` batches with ``loss_fn(logits, y)`` (default the mean
    softmax cross-entropy)."""

    def init(key):
        return init_params(model, key, input_length)

    def loss(params, batch):
        x, y = batch
        return loss_fn(model.apply({"params": params}, x), y)

    return Task(init, loss)


__all__ = ["Task", "classifier_task"]
