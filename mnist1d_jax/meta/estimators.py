"""Meta-gradient estimators behind one interface: exact, truncated, antithetic ES, persistent ES, forward mode.

An inner run is described once (`Unrolled`: ``init_state``, ``step``, ``num_steps``, optional ``weights``) and
every constructor here turns it into an `Estimator`, ``init(meta, context, key) -> est_state`` and
``grad(meta, est_state, context, key) -> ((value, aux), grad, est_state)``, with a static `Cost`. Pass one as
``mode=`` to `make_outer_scan` / `run_outer` (with ``key=``), or call it yourself.

* `exact`: reverse mode through the whole unroll (optionally the overflow-free `unroll_value_and_grad`);
* `truncated`: truncated backprop, the gradient through windows of K steps only (biased toward short horizons);
* `antithetic_es`: antithetic evolution strategies on the whole unroll (no backward pass at all);
* `pes`: persistent evolution strategies (Vicol, Metz & Sohl-Dickstein 2021): ES per window of K steps whose
  particles keep their inner states and accumulate their perturbations, unbiased for the smoothed objective;
* `forward`: forward mode, one Jacobian-vector product per meta-parameter (exact; memory independent of T).

The meta-objective of every estimator is ``Σ_t weights[t]·loss_t`` over the inner steps ``t = 0..T-1``
(default ``weights[t] = 1/T``: the mean of the per-step losses). Which to choose, and why: README.md,
"Choosing a meta-gradient estimator".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
from jax.extend.core import Literal

from mnist1d_jax.meta.inner import unroll, unroll_value_and_grad

PyTree = Any


# ----------------------------------------------------------------------------------------------------------------
# the inner run and the estimator interface
class Unrolled(NamedTuple):
    """An inner run that every estimator takes.

    ``init_state(meta, context) -> state`` starts a run; ``step(meta, state, t, context) -> (state, loss)`` is
    inner step ``t`` (an int32 scalar, 0..num_steps-1, so that a batch can be taken from ``context`` by index;
    ``loss`` a scalar, taken wherever the step chooses, usually before its update). The meta-objective is
    ``Σ_t weights[t]·loss_t``; ``weights`` is an array ``[num_steps]`` or None for ``1/num_steps`` each (the
    mean loss over the run).
    """

    init_state: Callable[[PyTree, PyTree], PyTree]
    step: Callable[[PyTree, PyTree, jax.Array, PyTree], tuple[PyTree, jax.Array]]
    num_steps: int
    weights: Any = None


class Cost(NamedTuple):
    """Work of one `Estimator.grad` call, in units of one inner step (one call of ``Unrolled.step``).

    ``forward``: step evaluations (recomputation for checkpointing and every ES particle included);
    ``backward``: step vector-Jacobian products (reverse mode; each costs about 2-3 forward steps);
    ``tangent``: step Jacobian-vector products *per meta-parameter* (forward mode; each about 1.5-2 forward
    steps); ``states``: inner states held at once (a reverse pass stores one per step, ES one per particle;
    forward mode also holds one tangent per meta-parameter).
    """

    forward: int
    backward: int
    tangent: int = 0
    states: int = 1


class Estimator(NamedTuple):
    """A meta-gradient estimator of one `Unrolled` problem.

    ``init(meta, context, key) -> est_state``: the persistent state (``()`` for the stateless ones).
    ``grad(meta, est_state, context, key) -> ((value, aux), grad, est_state)``: ``value`` a scalar (the
    objective, or its estimate: see each constructor), ``aux`` a dict (``"losses"``: per-step losses),
    ``grad`` shaped like ``meta`` (or a `ScaledGrad`), and the next state. Both are pure: jit them and vmap
    them over seeds (meta, context, key). ``cost``: the static `Cost` per call; ``name`` for reports.
    """

    init: Callable[[PyTree, PyTree, jax.Array], PyTree]
    grad: Callable[[PyTree, PyTree, PyTree, jax.Array], tuple[tuple[jax.Array, dict], PyTree, PyTree]]
    cost: Cost
    name: str


# ----------------------------------------------------------------------------------------------------------------
# shared pieces
def _check(problem: Unrolled, **ints: int) -> jax.Array:
    """Validate `problem` and the named positive integers; returns the weights [T] (float32)."""
    if not isinstance(problem, Unrolled):
        raise ValueError(f"problem must be an Unrolled(init_state, step, num_steps), not {type(problem).__name__}")
    for name, value in {"num_steps": problem.num_steps, **ints}.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}={value!r} must be an integer >= 1")
    steps = problem.num_steps
    if problem.weights is None:
        return jnp.full((steps,), 1.0 / steps, jnp.float32)
    weights = jnp.asarray(problem.weights, jnp.float32)
    if weights.shape != (steps,):
        raise ValueError(f"weights must have shape ({steps},) (one per inner step), not {weights.shape}")
    return weights


def _check_window(problem: Unrolled, window: int) -> int:
    """The number of windows J = T / K, refusing a K that does not divide T."""
    if problem.num_steps % window:
        raise ValueError(f"window {window} must divide the number of inner steps {problem.num_steps}")
    return problem.num_steps // window


def _check_sigma(sigma: float) -> None:
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma={sigma!r} must be a finite number > 0")


def _concrete(weights: jax.Array) -> np.ndarray | None:
    """The weights as a NumPy array, or None when they are traced (unknown until run)."""
    try:
        return np.asarray(weights)
    except jax.errors.TracerArrayConversionError:
        return None


def _leading_zero_windows(weights: jax.Array) -> int:
    """How many leading rows of ``weights [J, K]`` are all zero; 0 when the weights are traced (unknown)."""
    w = _concrete(weights)
    nonzero = w.any(axis=1) if w is not None else np.ones(1, bool)
    return int(np.argmax(nonzero)) if nonzero.any() else 0


def _all_zero(weights: jax.Array) -> bool:
    """Whether every weight is zero; False when the weights are traced (unknown)."""
    w = _concrete(weights)
    return w is not None and not w.any()


def _kept(keep: bool, state) -> dict:
    """``{"state": state}`` when the caller asked to keep the final inner state, else ``{}``."""
    return {"state": state} if keep else {}


def _run(problem: Unrolled, meta, state, steps: jax.Array, context, checkpoint: bool):
    """Inner steps ``steps`` [n] (their indices t) from `state`: ``(state, losses [n])``."""
    step = lambda m, s, t: problem.step(m, s, t, context)  # noqa: E731
    return unroll(step, state, steps, meta, checkpoint=checkpoint)


def _stateless(meta, context, key):
    return ()


def _depends_on(fn: Callable, meta) -> bool:
    """Whether any output of ``fn(meta)`` depends on `meta`, read off its jaxpr (conservative: an equation's
    outputs all depend on meta if any input does)."""
    jaxpr = jax.make_jaxpr(fn)(meta).jaxpr
    live = set(jaxpr.invars)
    for eqn in jaxpr.eqns:
        if any(not isinstance(v, Literal) and v in live for v in eqn.invars):
            live.update(eqn.outvars)
    return any(not isinstance(v, Literal) and v in live for v in jaxpr.outvars)


def _plus_minus(flat: jax.Array, eps: jax.Array) -> jax.Array:
    """``[θ + ε; θ − ε]`` [2, P, n] for perturbations ``eps`` [P, n] of the flat meta ``flat`` [n]."""
    return jnp.stack([flat + eps, flat - eps])


# ----------------------------------------------------------------------------------------------------------------
# exact and truncated reverse mode, forward mode
def exact(problem: Unrolled, *, checkpoint: bool = True, overflow_safe: bool = False,
          keep_state: bool = False) -> Estimator:
    """The exact meta-gradient by reverse mode through the whole unroll (`jax.value_and_grad` of `unroll`).

    ``value`` is the objective, ``aux["losses"]`` the per-step losses [T]. `checkpoint` recomputes each step
    in the backward pass (memory: one state per step instead of every activation). ``overflow_safe=True``
    uses `unroll_value_and_grad` instead, returning a `ScaledGrad` that stays finite where the true gradient
    of a chaotic unroll exceeds float32 (`make_outer_scan` clips it exactly); it covers the inner steps only,
    so it refuses an ``init_state`` that depends on meta. ``keep_state=True`` adds the final inner state as
    ``aux["state"]`` (to evaluate the trained inner model; drop it before stacking aux over outer steps).
    """
    weights = _check(problem)
    steps = jnp.arange(problem.num_steps)

    def objective(meta, context):
        state = problem.init_state(meta, context)
        final, losses = _run(problem, meta, state, steps, context, checkpoint)
        return jnp.sum(weights * losses), {"losses": losses, **_kept(keep_state, final)}

    value_and_grad = jax.value_and_grad(objective, has_aux=True)

    def grad(meta, est_state, context, key):
        if not overflow_safe:
            value_aux, g = value_and_grad(meta, context)
            return value_aux, g, est_state
        if _depends_on(lambda m: problem.init_state(m, context), meta):
            raise ValueError("exact(overflow_safe=True) differentiates the inner steps only: init_state must not "
                             "depend on meta")
        step = lambda m, s, t: problem.step(m, s, t, context)  # noqa: E731
        (value, (final, losses)), g = unroll_value_and_grad(step, problem.init_state(meta, context), steps, meta,
                                                            weights)
        return (value, {"losses": losses, **_kept(keep_state, final)}), g, est_state

    n = problem.num_steps
    recompute = 2 if (checkpoint or overflow_safe) else 1  # the backward pass evaluates every step again
    return Estimator(_stateless, grad, Cost(recompute * n, n, 0, n),
                     "exact (overflow-safe)" if overflow_safe else "exact")


class WindowState(NamedTuple):
    """Online truncated backprop's state: the inner ``state`` and the index [] int32 of the next window
    (0: the run restarts from ``init_state``)."""

    state: PyTree
    window: jax.Array


def truncated(problem: Unrolled, window: int, *, online: bool = False, checkpoint: bool = False,
              keep_state: bool = False) -> Estimator:
    """Truncated backprop: the run split into windows of K = `window` steps, the gradient of each window's
    objective ``Σ_{t in window} w_t·loss_t`` through that window only (its starting state a constant, the first
    window's included, so nothing flows through ``init_state``), summed over windows.

    Biased: a step's effect on the losses of later windows is dropped, so the estimate is blind to long-horizon
    consequences (short-horizon bias); ``window = T`` is `exact` without the ``init_state`` path. Memory: one
    window's states (K), not the whole run's. With ``online=False`` one call runs every window (``value``
    the objective, ``aux["losses"]`` [T]); when K does not divide T the *first* window is the shorter one
    (T mod K steps), so the windows line up with the end of the run, where late objectives live. With
    ``online=True`` (K must divide T) one call runs one window from the carried `WindowState` and restarts the
    run after the last (``value`` and the gradient that window's share, ``aux["losses"]`` [K], ``aux["window"]``
    its index), so T/K calls make one run. ``keep_state=True`` (``online=False`` only) adds the final inner
    state as ``aux["state"]``, as in `exact`.

    Leading windows whose weights are all zero (an objective that starts late, e.g. the mean of the last 200 of
    301 losses) contribute no gradient; with concrete weights they run forward only, without a backward pass.
    """
    weights = _check(problem, window=window)
    if keep_state and online:
        raise ValueError("truncated: keep_state is for online=False (online calls carry the state themselves)")
    if window > problem.num_steps:
        raise ValueError(f"window {window} must be at most the number of inner steps {problem.num_steps}")
    recompute = 2 if checkpoint else 1

    def window_grad(meta, state, steps, w, context):
        """One window: ``(value, state after it, losses, gradient through it)``."""
        def objective(m):
            new, losses = _run(problem, m, state, steps, context, checkpoint)
            return jnp.sum(w * losses), (new, losses)

        (value, (new, losses)), g = jax.value_and_grad(objective, has_aux=True)(meta)
        return value, new, losses, g

    if online:
        num_windows = _check_window(problem, window)
        per_window = weights.reshape(num_windows, window)

        def init(meta, context, key):
            return WindowState(problem.init_state(meta, context), jnp.zeros((), jnp.int32))

        def grad_online(meta, est_state, context, key):
            j = est_state.window
            state = jax.lax.cond(j == 0, lambda s: problem.init_state(meta, context), lambda s: s, est_state.state)
            value, state, losses, g = window_grad(meta, state, j * window + jnp.arange(window), per_window[j],
                                                  context)
            return (value, {"losses": losses, "window": j}), g, WindowState(state, (j + 1) % num_windows)

        return Estimator(init, grad_online, Cost(recompute * window, window, 0, window),
                         f"truncated online (K={window})")

    n = problem.num_steps
    head, full = n % window, n // window  # the first window has `head` steps (0: none), then `full` of K
    head_idle = head > 0 and _all_zero(weights[:head])
    per_window = weights[head:].reshape(full, window)
    # forward-only steps at the start: a zero-weight short window and the zero-weight full windows after it
    idle = (head if head_idle else 0) + (window * _leading_zero_windows(per_window) if head == 0 or head_idle
                                         else 0)
    first_full = (idle - head) // window if idle else 0  # the first full window that is differentiated

    def grad(meta, est_state, context, key):
        state, zero = problem.init_state(meta, context), jax.tree.map(jnp.zeros_like, meta)
        values, pieces, total = [], [], zero
        if idle:  # no gradient flows from these steps: forward only
            state, losses = _run(problem, jax.lax.stop_gradient(meta), state, jnp.arange(idle), context, False)
            pieces.append(losses)
        elif head:  # a short first window that carries weight
            value, state, losses, total = window_grad(meta, state, jnp.arange(head), weights[:head], context)
            values.append(value)
            pieces.append(losses)

        def body(carry, j):
            state, total = carry
            value, state, losses, g = window_grad(meta, state, head + j * window + jnp.arange(window),
                                                  per_window[j], context)
            return (state, jax.tree.map(jnp.add, total, g)), (value, losses)

        if first_full < full:
            (state, total), (window_values, losses) = jax.lax.scan(body, (state, total),
                                                                   jnp.arange(first_full, full))
            values.append(jnp.sum(window_values))
            pieces.append(losses.reshape(-1))
        value = sum(values) if values else jnp.zeros((), jnp.float32)
        return (value, {"losses": jnp.concatenate(pieces), **_kept(keep_state, state)}), total, est_state

    return Estimator(_stateless, grad, Cost(recompute * (n - idle) + idle, n - idle, 0, window),
                     f"truncated (K={window})")


def forward(problem: Unrolled) -> Estimator:
    """The exact meta-gradient by forward mode: one `jax.jvp` through the unroll per meta-parameter (vmapped),
    via `value_and_grad_forward`. Memory independent of T; work grows with the number of meta-parameters, so
    it suits a handful of scalars (a learning rate, a weight decay). ``value`` and ``aux`` as in `exact`."""
    from mnist1d_jax.meta.outer import value_and_grad_forward  # (outer imports this module for Estimator)

    weights = _check(problem)
    steps = jnp.arange(problem.num_steps)

    def objective(meta, context):
        state = problem.init_state(meta, context)
        _, losses = _run(problem, meta, state, steps, context, False)  # nothing stored: no checkpoint needed
        return jnp.sum(weights * losses), {"losses": losses}

    value_and_grad = value_and_grad_forward(objective)

    def grad(meta, est_state, context, key):
        value_aux, g = value_and_grad(meta, context)
        return value_aux, g, est_state

    return Estimator(_stateless, grad, Cost(problem.num_steps, 0, problem.num_steps, 1), "forward")


# ----------------------------------------------------------------------------------------------------------------
# evolution strategies
def antithetic_es(problem: Unrolled, sigma: float, pairs: int) -> Estimator:
    """Antithetic ES over the whole unroll: for `pairs` perturbations ``ε_i ~ N(0, σ²I)`` of the flattened
    meta θ [n], ``g = mean_i (L(θ+ε_i) − L(θ−ε_i))·ε_i / (2σ²)``.

    Unbiased for the gradient of the Gaussian-smoothed objective ``E_ε L(θ+ε)`` (which differs from ∇L by
    O(σ²·L''')), blind to how chaotic the unroll is (no backward pass, no exploding products), but its variance
    grows with n: at small σ entry i's is about ``(‖g‖² + g_i²)/pairs``, and ‖g‖² sums n entries. The
    2·pairs runs are one vmapped axis (memory: 2·pairs states). ``value`` is the mean objective of the 2·pairs
    perturbed runs (an estimate of the smoothed objective), ``aux["losses"]`` their mean per-step losses [T].
    A fresh ε every call, from `key`.
    """
    weights = _check(problem, pairs=pairs)
    _check_sigma(sigma)
    steps = jnp.arange(problem.num_steps)

    def grad(meta, est_state, context, key):
        flat, unravel = jax.flatten_util.ravel_pytree(meta)
        eps = sigma * jax.random.normal(key, (pairs, flat.size), flat.dtype)

        def objective(m):
            m = unravel(m)
            _, losses = _run(problem, m, problem.init_state(m, context), steps, context, False)
            return jnp.sum(weights * losses), losses

        values, losses = jax.vmap(jax.vmap(objective))(_plus_minus(flat, eps))  # [2, P], [2, P, T]
        g = jnp.mean((values[0] - values[1])[:, None] * eps, axis=0) / (2 * sigma**2)
        return (jnp.mean(values), {"losses": jnp.mean(losses, axis=(0, 1))}), unravel(g), est_state

    runs = 2 * pairs
    return Estimator(_stateless, grad, Cost(runs * problem.num_steps, 0, 0, runs),
                     f"antithetic ES (sigma={sigma}, pairs={pairs})")


class PESState(NamedTuple):
    """Online PES's particles. ``states``: the inner states, every leaf ``[2, pairs, ...]`` (the + particles
    then the − ones); ``xi`` [pairs, n]: the perturbation each + particle has accumulated since its run
    started (its − partner's is −ξ); ``window`` [] int32: the index of the next window (0: restart)."""

    states: PyTree
    xi: jax.Array
    window: jax.Array


def pes(problem: Unrolled, window: int, sigma: float, pairs: int, *, online: bool = False) -> Estimator:
    """Persistent evolution strategies: antithetic ES per window of K = `window` steps whose particles keep
    their inner states from window to window and remember the perturbations that produced them.

    Write the objective as ``Σ_j L_j(θ_1, ..., θ_j)``, L_j the weighted loss of window j and θ_k the meta used
    in window k (all equal θ). Each + particle draws a fresh ``ε_j ~ N(0, σ²I)`` per window and runs window j
    with ``θ + ε_j`` (its − partner with ``θ − ε_j``), so after window j its state carries the sum
    ``ξ_j = ε_1 + ... + ε_j``. Since ``E[(L_j(θ+ε_{≤j}) − L_j(θ−ε_{≤j}))·ε_k] / (2σ²)`` is the smoothed
    ``∂L_j/∂θ_k`` for every k ≤ j, summing over k gives the window's estimate
    ``g_j = mean_i (L_j⁺ − L_j⁻)·ξ_j,i / (2σ²)``, and ``Σ_j g_j`` is unbiased for the gradient of the objective
    smoothed with an independent perturbation per window, ``∇_θ E L(θ+ε_1, ..., θ+ε_J)``: no truncation bias
    however short K, but the variance grows with the number of windows (ξ_j's variance is j·σ²).

    ``online=False``: one call runs all J = T/K windows from fresh particles (ε_j from ``fold_in(key, j)``);
    ``value`` the particles' mean objective, ``aux["losses"]`` [T]. ``online=True``: one call runs one window
    from the carried `PESState` with ε from `key` (restarting every particle's run after the last window, as a
    learned optimiser's meta-training does), returning that window's ``g_j``, its mean window objective as
    ``value``, ``aux["losses"]`` [K] and ``aux["window"]`` j; J calls with keys ``fold_in(k, j)`` give exactly
    the full-run estimate with key k. Memory: 2·pairs states.
    """
    weights = _check(problem, window=window, pairs=pairs)
    _check_sigma(sigma)
    num_windows = _check_window(problem, window)
    weights = weights.reshape(num_windows, window)

    def start(flat, unravel, eps, context):
        """Every particle's fresh inner state, started with its window-0 meta θ ± ε_0."""
        return jax.vmap(jax.vmap(lambda m: problem.init_state(unravel(m), context)))(_plus_minus(flat, eps))

    def one_window(flat, unravel, states, eps, xi, j, context):
        """Window j for every particle: ``(states, window objectives [2, P], losses [2, P, K], g_j [n])``."""
        steps = j * window + jnp.arange(window)
        run = lambda m, s: _run(problem, unravel(m), s, steps, context, False)  # noqa: E731
        states, losses = jax.vmap(jax.vmap(run))(_plus_minus(flat, eps), states)
        values = jnp.sum(weights[j] * losses, axis=-1)
        g = jnp.mean((values[0] - values[1])[:, None] * xi, axis=0) / (2 * sigma**2)
        return states, values, losses, g

    def noise(key, n, dtype):
        return sigma * jax.random.normal(key, (pairs, n), dtype)

    if not online:
        def grad(meta, est_state, context, key):
            flat, unravel = jax.flatten_util.ravel_pytree(meta)
            windows = jnp.arange(num_windows)
            eps = jax.vmap(lambda j: noise(jax.random.fold_in(key, j), flat.size, flat.dtype))(windows)  # [J,P,n]
            xis = jnp.cumsum(eps, axis=0)

            def body(carry, inputs):
                states, total = carry
                j, e, xi = inputs
                states, values, losses, g = one_window(flat, unravel, states, e, xi, j, context)
                return (states, total + g), (values, losses)

            carry = (start(flat, unravel, eps[0], context), jnp.zeros_like(flat))
            (_, g), (values, losses) = jax.lax.scan(body, carry, (windows, eps, xis))  # [J, 2, P], [J, 2, P, K]
            value = jnp.mean(jnp.sum(values, axis=0))
            return (value, {"losses": jnp.mean(losses, axis=(1, 2)).reshape(-1)}), unravel(g), est_state

        runs = 2 * pairs
        return Estimator(_stateless, grad, Cost(runs * problem.num_steps, 0, 0, runs),
                         f"PES (K={window}, sigma={sigma}, pairs={pairs})")

    def init(meta, context, key):
        flat, unravel = jax.flatten_util.ravel_pytree(meta)
        eps = jnp.zeros((pairs, flat.size), flat.dtype)
        return PESState(start(flat, unravel, eps, context), eps, jnp.zeros((), jnp.int32))

    def grad_online(meta, est_state, context, key):
        flat, unravel = jax.flatten_util.ravel_pytree(meta)
        j = est_state.window
        restart = j == 0
        eps = noise(key, flat.size, flat.dtype)
        xi = jnp.where(restart, 0.0, est_state.xi) + eps
        states = jax.lax.cond(restart, lambda s: start(flat, unravel, eps, context), lambda s: s, est_state.states)
        states, values, losses, g = one_window(flat, unravel, states, eps, xi, j, context)
        aux = {"losses": jnp.mean(losses, axis=(0, 1)), "window": j}
        return (jnp.mean(values), aux), unravel(g), PESState(states, xi, (j + 1) % num_windows)

    runs = 2 * pairs
    return Estimator(init, grad_online, Cost(runs * window, 0, 0, runs),
                     f"PES online (K={window}, sigma={sigma}, pairs={pairs})")


__all__ = ["Cost", "Estimator", "PESState", "Unrolled", "WindowState", "antithetic_es", "exact", "forward", "pes",
           "truncated"]
