"""The inner problem of a bilevel run: the one object that every meta-gradient estimator takes.

An `InnerProblem` is pure functions of the meta-parameters ``meta``, a key and a per-run ``context`` (whatever
varies between runs and is not learned: data, a fixed init, a task description):

* ``init(meta, key, context) -> state``: a fresh inner run (draw the init, the data order or the task from key);
* ``step(meta, state, t, key, context) -> (state, loss_t)``: inner step ``t`` (int32 scalar, 0..num_steps-1)
  with its own key; ``loss_t`` a scalar (usually the minibatch loss before the update);
* ``num_steps``: T, static;
* ``weights``: ``[T]`` weights of the per-step losses in the meta-objective (None: ``1/T`` each, or all zero
  when an ``objective`` is given);
* ``objective(meta, state, key, context) -> scalar``: an optional held-out objective of the trained state (a
  validation loss), evaluated at the end of the run (the windowed estimators can also evaluate it at the end
  of every window: see ``objective_at`` there);
* ``metrics(meta, state, key, context) -> dict``: optional numbers to watch (test accuracy of the trained
  model), evaluated at the end of the run and never differentiated; returned in ``aux["metrics"]``;
* ``train_loss(meta, params, key, context) -> scalar``: optional, the inner objective whose minimiser the run
  approaches (its gradient in ``params`` vanishes at convergence); only the implicit estimator uses it.

The meta-objective is ``Σ_t weights[t]·loss_t + objective(final state)``. Every key of one run comes from
`run_keys` of the one key an estimator is given per outer step, so two estimators called with the same key
see the same inner run (same init, same batches).

`inner_problem` builds the common case in a few lines: a `Task`, an optax inner optimiser whose
hyperparameters are functions of ``meta``, batches (stacked ``[T, ...]`` or a function of ``t`` and the key),
and an objective; its state is an `InnerState` ``(params, opt_state)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax.meta.tasks import Task

Array = jax.Array
PyTree = Any


class InnerProblem(NamedTuple):
    """An inner training run described by pure functions (see the module docstring for each field)."""

    init: Callable[[PyTree, Array, PyTree], PyTree]
    step: Callable[[PyTree, PyTree, Array, Array, PyTree], tuple[PyTree, Array]]
    num_steps: int
    weights: Any = None
    objective: Callable[[PyTree, PyTree, Array, PyTree], Array] | None = None
    metrics: Callable[[PyTree, PyTree, Array, PyTree], dict] | None = None
    train_loss: Callable[[PyTree, PyTree, Array, PyTree], Array] | None = None


class InnerState(NamedTuple):
    """The state of a run built by `inner_problem`: the model's ``params`` and the inner ``opt_state``."""

    params: PyTree
    opt_state: PyTree


class RunKeys(NamedTuple):
    """The keys of one inner run: ``init`` for ``init``, ``steps`` (step t uses ``fold_in(steps, t)``) and
    ``objective`` (the objective or metrics after n steps use ``fold_in(objective, n)``)."""

    init: Array
    steps: Array
    objective: Array

    def step(self, t) -> Array:
        return jax.random.fold_in(self.steps, t)

    def after(self, n) -> Array:
        return jax.random.fold_in(self.objective, n)


def as_key(key) -> Array:
    """A typed key from a typed key or raw key data (uint32 ``[2]``); a clear error for anything else."""
    if key is None:
        raise ValueError("a key is required: pass jax.random.key(seed) (keys are explicit, never global)")
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return key
    if key.dtype == jnp.uint32:
        return jax.random.wrap_key_data(key)
    raise ValueError(f"expected a jax.random.key, not an array of {key.dtype}")


def run_keys(key) -> RunKeys:
    """The keys of the inner run an estimator makes from its key (the same split in every estimator)."""
    return RunKeys(*jax.random.split(as_key(key), 3))


RUN_STREAM = 2**31 - 1  # the inner run's keys are folded from the estimator's key with this tag


def split_estimator_key(key) -> tuple[Array, Array]:
    """``(run key, noise key)`` of an estimator's key: the inner run's key ``fold_in(key, RUN_STREAM)`` (see
    `run_keys`) and the estimator's own noise key, the key itself (ES draws ε from it; PES draws window j's
    from ``fold_in(key, j)``, j far below `RUN_STREAM`)."""
    key = as_key(key)
    return jax.random.fold_in(key, RUN_STREAM), key


def check_problem(problem: InnerProblem) -> jax.Array:
    """Validate `problem`; returns its per-step weights ``[T]`` float32 (defaults filled in)."""
    if not isinstance(problem, InnerProblem):
        raise ValueError(f"problem must be a meta.InnerProblem(init, step, num_steps, ...), not "
                         f"{type(problem).__name__}")
    steps = problem.num_steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"num_steps={steps!r} must be an integer >= 1")
    for name in ("init", "step"):
        if not callable(getattr(problem, name)):
            raise ValueError(f"InnerProblem.{name} must be a function")
    for name in ("objective", "metrics", "train_loss"):
        value = getattr(problem, name)
        if value is not None and not callable(value):
            raise ValueError(f"InnerProblem.{name} must be a function or None")
    if problem.weights is None:
        fill = 0.0 if problem.objective is not None else 1.0 / steps
        return jnp.full((steps,), fill, jnp.float32)
    weights = jnp.asarray(problem.weights, jnp.float32)
    if weights.shape != (steps,):
        raise ValueError(f"weights must have shape ({steps},) (one per inner step), not {weights.shape}")
    return weights


def run_steps(problem: InnerProblem, meta, state, steps: Array, keys: RunKeys, context, *,
              checkpoint: bool = False):
    """Inner steps ``steps [n]`` (their indices t) from `state` as one `lax.scan`: ``(state, losses [n])``.
    ``checkpoint`` recomputes each step in the backward pass (memory: one state per step)."""
    def body(s, t):
        return problem.step(meta, s, t, keys.step(t), context)

    body = jax.checkpoint(body) if checkpoint else body
    return jax.lax.scan(body, state, steps)


def objective_at(problem: InnerProblem, meta, state, keys: RunKeys, n, context) -> Array:
    """The held-out objective after `n` inner steps (0 when the problem has none)."""
    if problem.objective is None:
        return jnp.zeros((), jnp.float32)
    return problem.objective(meta, state, keys.after(n), context)


def metrics_at(problem: InnerProblem, meta, state, keys: RunKeys, n, context) -> dict:
    """``{"metrics": ...}`` of the state after `n` inner steps (no gradient), or ``{}`` without metrics."""
    if problem.metrics is None:
        return {}
    m = problem.metrics(jax.lax.stop_gradient(meta), jax.lax.stop_gradient(state), keys.after(n), context)
    return {"metrics": jax.lax.stop_gradient(m)}


def run_inner(problem: InnerProblem, meta, key, context):
    """One inner run forward, no gradient: ``(final state, losses [T])`` with the keys an estimator called with
    `key` would use (to evaluate a learned thing on fresh keys: a distilled set, a learned optimiser)."""
    keys = run_keys(split_estimator_key(key)[0])
    meta = jax.lax.stop_gradient(meta)
    return run_steps(problem, meta, problem.init(meta, keys.init, context), jnp.arange(problem.num_steps), keys,
                     context)


# ----------------------------------------------------------------------------------------------------------------
# the builder
def _batch_source(data) -> tuple[Callable, int | None]:
    """``(batch(meta, t, key, context), T or None)`` from stacked arrays ``[T, ...]`` or a function."""
    if callable(data):
        return data, None
    leaves = jax.tree.leaves(data)
    if not leaves or any(np.ndim(a) < 1 for a in leaves):
        raise ValueError("data must be batches stacked on a leading axis T (arrays [T, ...]) or a function "
                         "data(meta, t, key, context) -> batch")
    lengths = {int(np.shape(a)[0]) for a in leaves}
    if len(lengths) != 1:
        raise ValueError(f"every array of data needs the same leading axis T, not {sorted(lengths)}")
    return (lambda meta, t, key, context: jax.tree.map(lambda a: a[t], data)), lengths.pop()


def inner_problem(
    task: Task,
    optimizer: optax.GradientTransformation | Callable[[PyTree], optax.GradientTransformation],
    data,
    num_steps: int | None = None,
    *,
    objective: Callable[[PyTree, PyTree, Array, PyTree], Array] | None = None,
    weights=None,
    loss: Callable[[PyTree, PyTree, PyTree], Array] | None = None,
    init: Callable[[PyTree, Array, PyTree], PyTree] | None = None,
    metrics: Callable[[PyTree, PyTree, Array, PyTree], dict] | None = None,
    train_loss: Callable[[PyTree, PyTree, Array, PyTree], Array] | None = None,
    checkpoint: bool = False,
) -> InnerProblem:
    """An `InnerProblem` that trains ``task`` with an optax optimiser: the common case in a few lines.

    Args:
      task: ``init(key) -> params`` and ``loss(params, batch) -> ()`` (e.g. `classifier_task`).
      optimizer: an optax transformation, or ``optimizer(meta)`` returning one whose hyperparameters are
        functions of meta (``lambda m: optax.sgd(jnp.exp(m["log_lr"]))``; a constrained value lives in an
        unconstrained space). Its state is made by ``optimizer(meta).init(params)``.
      data: the batches, stacked ``[T, ...]`` (step t trains on ``data[t]``; T gives `num_steps`), or a function
        ``data(meta, t, key, context) -> batch`` (a sampler using the step's key, batches held in the context,
        or learned data in meta).
      num_steps: T (required with a data function).
      objective: ``objective(meta, params, key, context) -> scalar``, the held-out objective of the trained
        params (a validation loss). With it and no `weights` the per-step losses do not count.
      weights: ``[T]`` weights of the per-step (training) losses in the meta-objective.
      loss: ``loss(meta, params, batch) -> scalar`` replacing ``task.loss`` (a learned regulariser, learned
        example weights).
      init: ``init(meta, key, context) -> params`` replacing ``task.init(key)`` (a fixed init from the context:
        ``lambda m, k, c: c["params0"]``; a learned init from meta).
      metrics: ``metrics(meta, params, key, context) -> dict`` watched at the end of the run (not differentiated).
      train_loss: ``train_loss(meta, params, key, context)`` minimised by the run (for `meta.implicit`).
      checkpoint: `jax.checkpoint` the loss-and-gradient of each step (memory for time in long unrolls).

    Returns:
      The `InnerProblem`; its state is ``InnerState(params, opt_state)`` and step t's loss is the minibatch loss
      before the update.
    """
    if not isinstance(task, Task):
        raise ValueError(f"task must be a meta.Task(init, loss), not {type(task).__name__}")
    batch_of, length = _batch_source(data)
    if num_steps is None:
        if length is None:
            raise ValueError("num_steps is required when data is a function")
        num_steps = length
    elif length is not None and length != num_steps:
        raise ValueError(f"num_steps={num_steps} but data holds {length} batches")
    make_opt = optimizer if not isinstance(optimizer, optax.GradientTransformation) else (lambda m: optimizer)
    if not callable(make_opt):
        raise ValueError("optimizer must be an optax.GradientTransformation or a function of meta returning one")
    loss_of = loss if loss is not None else (lambda m, p, b: task.loss(p, b))
    init_params = init if init is not None else (lambda m, k, c: task.init(k))
    value_and_grad = jax.value_and_grad(loss_of, argnums=1)
    value_and_grad = jax.checkpoint(value_and_grad) if checkpoint else value_and_grad

    def init_state(meta, key, context):
        params = init_params(meta, key, context)
        return InnerState(params, make_opt(meta).init(params))

    def step(meta, state, t, key, context):
        value, grads = value_and_grad(meta, state.params, batch_of(meta, t, key, context))
        updates, opt_state = make_opt(meta).update(grads, state.opt_state, state.params)
        return InnerState(optax.apply_updates(state.params, updates), opt_state), value

    def on_params(fn):
        return None if fn is None else (lambda m, s, k, c: fn(m, s.params, k, c))

    return InnerProblem(init_state, step, int(num_steps), weights, on_params(objective), on_params(metrics),
                        train_loss)


__all__ = ["RUN_STREAM", "InnerProblem", "InnerState", "RunKeys", "as_key", "check_problem", "inner_problem",
           "run_inner", "run_keys", "split_estimator_key"]
