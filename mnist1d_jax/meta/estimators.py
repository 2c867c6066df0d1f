"""The estimator interface, and the exact meta-gradient by reverse and by forward mode.

Every estimator takes one `InnerProblem` (``meta.problem``) and returns an `Estimator`:
``init(meta, key, context) -> est_state`` and ``grad(meta, est_state, key, context) -> ((value, aux), grad,
est_state)``, with a static `Cost`. `run_outer` takes any of them; so does your own code (jit and vmap them).

* `exact`: reverse mode through the whole unroll (optionally the overflow-free `unroll_value_and_grad`);
* `forward`: forward mode, one Jacobian-vector product per meta-parameter (exact; memory independent of T);
* `from_value_and_grad`: an `Estimator` from a hand-written ``value_and_grad(meta, key, context)``;
* ``meta.truncated`` (truncated backprop), ``meta.es`` (antithetic ES, PES) and ``meta.implicit`` (implicit
  differentiation) are the others.

The meta-objective is ``Σ_t weights[t]·loss_t + objective(final state)`` (`InnerProblem`). Which estimator to
choose, and why: README.md, "Choosing a meta-gradient estimator".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

from mnist1d_jax.meta.inner import unroll_value_and_grad
from mnist1d_jax.meta.problem import (
    InnerProblem,
    check_problem,
    metrics_at,
    objective_at,
    run_keys,
    run_steps,
    split_estimator_key,
)

PyTree = Any


class Cost(NamedTuple):
    """Work of one `Estimator.grad` call, in units of one inner step (one call of ``InnerProblem.step``).

    ``forward``: step evaluations (recomputation for checkpointing and every ES particle included);
    ``backward``: step vector-Jacobian products (reverse mode; each costs about 2-3 forward steps);
    ``tangent``: step Jacobian-vector products *per meta-parameter* (forward mode; each about 1.5-2 forward
    steps); ``states``: inner states held at once (a reverse pass stores one per step, ES one per particle;
    forward mode also holds one tangent per meta-parameter); ``hvp``: Hessian-vector products of
    ``train_loss`` (the implicit estimator; each about 4-5 evaluations of that loss).
    """

    forward: int
    backward: int
    tangent: int = 0
    states: int = 1
    hvp: int = 0


class Estimator(NamedTuple):
    """A meta-gradient estimator of one `InnerProblem`.

    ``init(meta, key, context) -> est_state``: the persistent state (``()`` for the stateless ones).
    ``grad(meta, est_state, key, context) -> ((value, aux), grad, est_state)``: ``value`` a scalar (the
    meta-objective, or its estimate: see each constructor), ``aux`` a dict (``"losses"``: per-step losses;
    ``"metrics"``: the problem's metrics, if it has any), ``grad`` shaped like ``meta`` (or a `ScaledGrad`),
    and the next state. Both are pure: jit them and vmap them over seeds (meta, key, context). ``cost``: the
    static `Cost` per call; ``name`` for reports.
    """

    init: Callable[[PyTree, jax.Array, PyTree], PyTree]
    grad: Callable[[PyTree, PyTree, jax.Array, PyTree], tuple[tuple[jax.Array, dict], PyTree, PyTree]]
    cost: Cost
    name: str


# ----------------------------------------------------------------------------------------------------------------
# shared pieces
def check_positive_ints(**ints: int) -> None:
    for name, value in ints.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r} must be an integer >= 1")


def stateless(meta, key, context):
    return ()


def concrete(weights: jax.Array) -> np.ndarray | None:
    """The weights as a NumPy array, or None when they are traced (unknown until run)."""
    try:
        return np.asarray(weights)
    except jax.errors.TracerArrayConversionError:
        return None


def depends_on(fn: Callable, meta) -> bool:
    """Whether any output of ``fn(meta)`` depends on `meta`, read off its jaxpr (conservative: an equation's
    outputs all depend on meta if any input does)."""
    jaxpr = jax.make_jaxpr(fn)(meta).jaxpr
    live = set(jaxpr.invars)
    for eqn in jaxpr.eqns:
        if any(not isinstance(v, Literal) and v in live for v in eqn.invars):
            live.update(eqn.outvars)
    return any(not isinstance(v, Literal) and v in live for v in jaxpr.outvars)


def full_run(problem: InnerProblem, weights, meta, keys, context, *, checkpoint: bool = False):
    """One whole inner run from ``init``: ``(meta-objective, (final state, losses [T], objective))``."""
    state = problem.init(meta, keys.init, context)
    final, losses = run_steps(problem, meta, state, jnp.arange(problem.num_steps), keys, context,
                              checkpoint=checkpoint)
    value = jnp.sum(weights * losses)
    held_out = None
    if problem.objective is not None:
        held_out = objective_at(problem, meta, final, keys, problem.num_steps, context)
        value = value + held_out
    return value, (final, losses, held_out)


def run_aux(problem: InnerProblem, meta, final, losses, held_out, keys, context) -> dict:
    """``aux`` of a whole run: the losses, the held-out objective (if any) and the metrics (if any)."""
    aux = {"losses": losses, **metrics_at(problem, meta, final, keys, problem.num_steps, context)}
    if held_out is not None:
        aux["objective"] = held_out
    return aux


def value_and_grad_forward(fn: Callable) -> Callable:
    """Like ``jax.value_and_grad(fn, has_aux=True)`` but by forward mode: one `jax.jvp` per meta-parameter.

    ``fn(meta, *args) -> (value, aux)``; returns ``vg(meta, *args) -> ((value, aux), grad)``. Exact, and for a
    handful of scalar meta-parameters cheaper than reverse mode through a long unroll, with memory independent
    of its length (nothing is stored for a backward pass).
    """

    def vg(meta, *args):
        flat, unravel = jax.flatten_util.ravel_pytree(meta)
        f = lambda v: fn(unravel(v), *args)  # noqa: E731
        basis = jnp.eye(flat.size, dtype=flat.dtype)
        value, tangents, aux = jax.vmap(lambda t: jax.jvp(f, (flat,), (t,), has_aux=True),
                                        out_axes=(None, 0, None))(basis)
        return (value, aux), unravel(tangents)

    return vg


# ----------------------------------------------------------------------------------------------------------------
# exact reverse mode, forward mode, hand-written
def exact(problem: InnerProblem, *, checkpoint: bool = True, overflow_safe: bool = False) -> Estimator:
    """The exact meta-gradient by reverse mode through the whole unroll.

    ``value`` is the meta-objective; ``aux["losses"]`` the per-step losses [T] (and ``aux["objective"]``,
    ``aux["metrics"]`` when the problem has them). `checkpoint` recomputes each step in the backward pass
    (memory: one state per step instead of every activation). ``overflow_safe=True`` uses
    `unroll_value_and_grad` instead, returning a `ScaledGrad` that stays finite where the true gradient of a
    chaotic unroll exceeds float32 (`run_outer` clips it exactly); it covers the steps and the objective, so it
    refuses an ``init`` that depends on meta.
    """
    weights = check_problem(problem)
    n = problem.num_steps

    def objective(meta, keys, context):
        return full_run(problem, weights, meta, keys, context, checkpoint=checkpoint)

    value_and_grad = jax.value_and_grad(objective, has_aux=True)

    def grad(meta, est_state, key, context):
        keys = run_keys(split_estimator_key(key)[0])
        if not overflow_safe:
            (value, (final, losses, held_out)), g = value_and_grad(meta, keys, context)
        else:
            if depends_on(lambda m: problem.init(m, keys.init, context), meta):
                raise ValueError("exact(overflow_safe=True) differentiates the inner steps and the objective "
                                 "only: init must not depend on meta")
            step = lambda m, s, t: problem.step(m, s, t, keys.step(t), context)  # noqa: E731
            final_objective = None
            if problem.objective is not None:
                final_objective = lambda m, s: problem.objective(m, s, keys.after(n), context)  # noqa: E731
            (value, (final, losses)), g = unroll_value_and_grad(
                step, problem.init(meta, keys.init, context), jnp.arange(n), meta, weights,
                final_objective=final_objective)
            held_out = None if final_objective is None else final_objective(meta, final)  # (CSE'd by XLA)
        return (value, run_aux(problem, meta, final, losses, held_out, keys, context)), g, est_state

    recompute = 2 if (checkpoint or overflow_safe) else 1  # the backward pass evaluates every step again
    return Estimator(stateless, grad, Cost(recompute * n, n, 0, n),
                     "exact (overflow-safe)" if overflow_safe else "exact")


def forward(problem: InnerProblem) -> Estimator:
    """The exact meta-gradient by forward mode: one `jax.jvp` through the unroll per meta-parameter (vmapped),
    via `value_and_grad_forward`. Memory independent of T; work grows with the number of meta-parameters, so
    it suits a handful of scalars (a learning rate, a weight decay). ``value`` and ``aux`` as in `exact`."""
    weights = check_problem(problem)

    def objective(meta, keys, context):  # nothing is stored for a backward pass: no checkpoint needed
        value, (final, losses, held_out) = full_run(problem, weights, meta, keys, context)
        return value, run_aux(problem, meta, final, losses, held_out, keys, context)

    value_and_grad = value_and_grad_forward(objective)

    def grad(meta, est_state, key, context):
        value_aux, g = value_and_grad(meta, run_keys(split_estimator_key(key)[0]), context)
        return value_aux, g, est_state

    return Estimator(stateless, grad, Cost(problem.num_steps, 0, problem.num_steps, 1), "forward")


def from_value_and_grad(value_and_grad: Callable, cost: Cost, name: str) -> Estimator:
    """A stateless `Estimator` from a hand-written ``value_and_grad(meta, key, context) -> ((value, aux),
    grad)`` (a fused forward-mode unroll, a closed form, ``jax.value_and_grad(f, has_aux=True)`` of your own
    meta-loss ``f(meta, key, context)``). ``cost`` is its work per call, ``name`` its name in reports."""
    if not callable(value_and_grad):
        raise ValueError("from_value_and_grad needs a function value_and_grad(meta, key, context)")
    if not isinstance(cost, Cost):
        raise ValueError(f"cost must be a meta.Cost, not {type(cost).__name__}")

    def grad(meta, est_state, key, context):
        value_aux, g = value_and_grad(meta, key, context)
        return value_aux, g, est_state

    return Estimator(stateless, grad, cost, name)


__all__ = ["Cost", "Estimator", "exact", "forward", "from_value_and_grad", "value_and_grad_forward"]
