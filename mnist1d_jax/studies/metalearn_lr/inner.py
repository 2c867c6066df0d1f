"""The learning-rate study's inner problem: the tanh MLP (`inner_task`), its sequential batches, and the
inner run of plain SGD at rate η as a `meta.InnerProblem` that every estimator takes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from mnist1d_jax import meta as metalib
from mnist1d_jax.core.schedules import Sequential, stack_batches
from mnist1d_jax.nn.models import MLP


def inner_task(hidden: int = 50) -> metalib.Task:
    """The inner problem: the zoo's ``MLP(width=hidden, depth=1, residual=False, activation="tanh")`` (Dense
    40→hidden, tanh, Dense hidden→10; 2,560 parameters at 50) under the mean softmax cross-entropy."""
    return metalib.classifier_task(MLP(width=hidden, depth=1, residual=False, activation="tanh"))


def sequential_batches(x, y, steps: int, batch: int):
    """Batch s is examples ``(batch·s + i) mod N``: ``x [T, B, 40]`` float32, ``y [T, B]`` int32."""
    return stack_batches(Sequential(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.int32), batch), steps)


def inner_problem(task: metalib.Task, batches, *, checkpoint: bool = False) -> metalib.InnerProblem:
    """The study's inner run, for every estimator: meta η [] float32 (η itself, the paper's parametrisation);
    context the run's initial parameters (the zoo pytree, the same at every outer step); state
    ``InnerState(params, ())``; step t one plain-SGD step ``θ ← θ − η∇L`` on batch t of `batches` (``x [T, B,
    40]``, ``y [T, B]``), its loss taken before the update; meta-objective the mean of the T losses."""
    return metalib.inner_problem(task, plain_sgd, batches, init=lambda lr, key, params0: params0,
                                 checkpoint=checkpoint)


def plain_sgd(lr) -> optax.GradientTransformation:
    """``θ ← θ − η·g`` as an optax transformation, the update formed as ``−(η·g)``: the arithmetic of the study's
    records (``optax.sgd(η)`` forms ``(−η)·g``, the same numbers forward but float32-rounded differently in the
    meta-gradient, which moved the truncated estimator's η by 1 ulp)."""
    return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                        lambda g, state, params=None: (jax.tree.map(lambda x: -(lr * x), g), state))
