"""Truncated backprop: the meta-gradient through windows of K inner steps only (whole runs, or one window a call).

Biased toward short horizons (Wu et al. 2018: a step's effect on the losses of later windows is dropped), but its
memory is one window's states and its gradient never multiplies more than K step Jacobians, so it stays bounded
where the exact gradient of a chaotic unroll explodes.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.meta.estimators import Cost, Estimator, check_positive_ints, concrete, stateless
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
OBJECTIVE_AT = ("windows", "end")


class WindowState(NamedTuple):
    """Online truncated backprop's state: the inner ``state``, the index [] int32 of the next window (0: the run
    restarts from ``init``) and ``run_key``, the raw key data of the run in progress (kept across its windows)."""

    state: PyTree
    window: jax.Array
    run_key: jax.Array


def window_objective_weights(problem: InnerProblem, num_windows: int, objective_at: str) -> np.ndarray:
    """``[J]`` weights of the held-out objective at the end of each window: ``1/J`` each (``"windows"``), the
    last one only (``"end"``), or zeros when the problem has no objective."""
    if objective_at not in OBJECTIVE_AT:
        raise ValueError(f"objective_at={objective_at!r} must be one of {', '.join(OBJECTIVE_AT)}")
    v = np.zeros(num_windows, np.float32)
    if problem.objective is not None:
        if objective_at == "windows":
            v[:] = 1.0 / num_windows
        else:
            v[-1] = 1.0
    return v


def window_value(problem: InnerProblem, meta, state, steps, w, v, keys, context, checkpoint: bool):
    """One window from `state`: ``(Σ w·losses + v·objective at its end, (new state, losses, objective))``."""
    new, losses = run_steps(problem, meta, state, steps, keys, context, checkpoint=checkpoint)
    value = jnp.sum(w * losses)
    held_out = None
    if problem.objective is not None:
        held_out = objective_at(problem, meta, new, keys, steps[-1] + 1, context)
        value = value + v * held_out
    return value, (new, losses, held_out)


def truncated(problem: InnerProblem, window: int, *, online: bool = False, checkpoint: bool = False,
              objective_at: str = "windows") -> Estimator:
    """Truncated backprop: the run split into windows of K = `window` steps, the gradient of each window's
    objective ``Σ_{t in window} w_t·loss_t (+ v_j·objective at the window's end)`` through that window only (its
    starting state a constant, the first window's included, so nothing flows through ``init``), summed over
    windows.

    ``objective_at``: where the problem's held-out objective is evaluated: ``"windows"`` (default) at the end of
    every window with weight 1/J, so every window gets a signal; ``"end"`` at the end of the run only (the
    meta-objective of `exact`; then only the last window sees it). ``window = T`` is `exact` without the
    ``init`` path. With ``online=False`` one call runs every window (``value`` the objective, ``aux["losses"]``
    [T]); when K does not divide T the *first* window is the shorter one (T mod K steps), so the windows line
    up with the end of the run, where late objectives live. With ``online=True`` (K must divide T) one call runs
    one window from the carried `WindowState` and restarts the run (with this call's key) after the last
    (``value`` and the gradient that window's share, ``aux["losses"]`` [K], ``aux["window"]`` its index), so T/K
    calls make one run; metrics are then those at the end of the window.

    Leading windows that carry no weight (an objective that starts late, e.g. the mean of the last 200 of 301
    losses) contribute no gradient; with concrete weights they run forward only, without a backward pass.
    """
    weights = check_problem(problem)
    check_positive_ints(window=window)
    if window > problem.num_steps:
        raise ValueError(f"window {window} must be at most the number of inner steps {problem.num_steps}")
    recompute = 2 if checkpoint else 1
    n = problem.num_steps

    def window_grad(meta, state, steps, w, v, keys, context):
        """One window: ``(value, state after it, losses, objective, gradient through it)``."""
        (value, (new, losses, held_out)), g = jax.value_and_grad(
            lambda m: window_value(problem, m, state, steps, w, v, keys, context, checkpoint), has_aux=True)(meta)
        return value, new, losses, held_out, g

    def with_objective(aux, held_out):
        return aux if held_out is None else {**aux, "objective": held_out}

    if online:
        if n % window:
            raise ValueError(f"window {window} must divide the number of inner steps {n} (online=True)")
        num_windows = n // window
        per_window = weights.reshape(num_windows, window)
        v_all = jnp.asarray(window_objective_weights(problem, num_windows, objective_at))

        def init(meta, key, context):
            run_key = split_estimator_key(key)[0]
            return WindowState(problem.init(meta, run_keys(run_key).init, context), jnp.zeros((), jnp.int32),
                               jax.random.key_data(run_key))

        def grad_online(meta, est_state, key, context):
            j = est_state.window
            restart = j == 0
            fresh = jax.random.key_data(split_estimator_key(key)[0])
            run_key = jnp.where(restart, fresh, est_state.run_key)
            keys = run_keys(run_key)
            state = jax.lax.cond(restart, lambda s: problem.init(meta, keys.init, context), lambda s: s,
                                 est_state.state)
            steps = j * window + jnp.arange(window)
            value, state, losses, held_out, g = window_grad(meta, state, steps, per_window[j], v_all[j], keys,
                                                            context)
            aux = {"losses": losses, "window": j,
                   **metrics_at(problem, meta, state, keys, (j + 1) * window, context)}
            return ((value, with_objective(aux, held_out)), g,
                    WindowState(state, (j + 1) % num_windows, run_key))

        return Estimator(init, grad_online, Cost(recompute * window, window, 0, window),
                         f"truncated online (K={window})")

    head, full = n % window, n // window  # the first window has `head` steps (0: none), then `full` of K
    v = window_objective_weights(problem, full + (head > 0), objective_at)
    v_head, v_full = (v[0], v[1:]) if head else (0.0, v)
    w_np = concrete(weights)
    per_window = weights[head:].reshape(full, window)
    # forward-only steps at the start: a zero-weight short window and the zero-weight full windows after it
    head_idle = head > 0 and w_np is not None and not w_np[:head].any() and v_head == 0
    lead = 0
    if w_np is not None and (head == 0 or head_idle):
        carries = w_np[head:].reshape(full, window).any(axis=1) | (v_full != 0)
        lead = int(np.argmax(carries)) if carries.any() else 0
    idle = (head if head_idle else 0) + window * lead
    first_full = lead
    v_full = jnp.asarray(v_full)

    def grad(meta, est_state, key, context):
        keys = run_keys(split_estimator_key(key)[0])
        state, zero = problem.init(meta, keys.init, context), jax.tree.map(jnp.zeros_like, meta)
        values, pieces, total, held_out = [], [], zero, None
        if idle:  # no gradient flows from these steps: forward only
            state, losses = run_steps(problem, jax.lax.stop_gradient(meta), state, jnp.arange(idle), keys, context)
            pieces.append(losses)
        elif head:  # a short first window that carries weight
            value, state, losses, held_out, total = window_grad(meta, state, jnp.arange(head), weights[:head],
                                                                v_head, keys, context)
            values.append(value)
            pieces.append(losses)

        def body(carry, inputs):
            state, total = carry
            j, v_j = inputs
            value, state, losses, held, g = window_grad(meta, state, head + j * window + jnp.arange(window),
                                                        per_window[j], v_j, keys, context)
            return (state, jax.tree.map(jnp.add, total, g)), (value, losses, held)

        if first_full < full:
            (state, total), (window_values, losses, held) = jax.lax.scan(
                body, (state, total), (jnp.arange(first_full, full), v_full[first_full:]))
            values.append(jnp.sum(window_values))
            pieces.append(losses.reshape(-1))
            held_out = None if held is None else held[-1]
        value = sum(values) if values else jnp.zeros((), jnp.float32)
        aux = {"losses": jnp.concatenate(pieces), **metrics_at(problem, meta, state, keys, n, context)}
        return (value, with_objective(aux, held_out)), total, est_state

    return Estimator(stateless, grad, Cost(recompute * (n - idle) + idle, n - idle, 0, window),
                     f"truncated (K={window})")


__all__ = ["OBJECTIVE_AT", "WindowState", "truncated", "window_objective_weights"]
