"""Evolution strategies: antithetic ES on whole runs, and persistent ES (PES) over windows.

No backward pass at all: blind to how chaotic the unroll is, unbiased for a Gaussian-smoothed objective, with a
variance that grows with the number of meta-parameters. The antithetic pairs are one vmapped axis; every
particle runs the same inner randomness (the run's keys), so a pair's difference measures the perturbation only.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.meta.estimators import Cost, Estimator, check_positive_ints, full_run, stateless
from mnist1d_jax.meta.problem import check_problem, metrics_at, run_keys, split_estimator_key
from mnist1d_jax.meta.truncated import window_objective_weights, window_value

PyTree = Any


def _check_sigma(sigma: float) -> None:
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma={sigma!r} must be a finite number > 0")


def _plus_minus(flat: jax.Array, eps: jax.Array) -> jax.Array:
    """``[θ + ε; θ − ε]`` [2, P, n] for perturbations ``eps`` [P, n] of the flat meta ``flat`` [n]."""
    return jnp.stack([flat + eps, flat - eps])


def _mean_metrics(aux: dict) -> dict:
    """The particles' metrics averaged over the leading particle axes [2, P]."""
    return {"metrics": jax.tree.map(lambda a: jnp.mean(a, axis=(0, 1)), aux["metrics"])} if "metrics" in aux else {}


def antithetic_es(problem, sigma: float, pairs: int) -> Estimator:
    """Antithetic ES over the whole unroll: for `pairs` perturbations ``ε_i ~ N(0, σ²I)`` of the flattened
    meta θ [n], ``g = mean_i (L(θ+ε_i) − L(θ−ε_i))·ε_i / (2σ²)``.

    Unbiased for the gradient of the Gaussian-smoothed objective ``E_ε L(θ+ε)`` (which differs from ∇L by
    O(σ²·L''')), blind to how chaotic the unroll is (no backward pass, no exploding products), but its variance
    grows with n: at small σ entry i's is about ``(‖g‖² + g_i²)/pairs``, and ‖g‖² sums n entries. The
    2·pairs runs are one vmapped axis (memory: 2·pairs states). ``value`` is the mean objective of the 2·pairs
    perturbed runs (an estimate of the smoothed objective), ``aux["losses"]`` their mean per-step losses [T],
    ``aux["metrics"]`` their mean metrics. ε is drawn from the key itself (PES with one window and key k is
    this estimator with key ``fold_in(k, 0)``).
    """
    weights = check_problem(problem)
    check_positive_ints(pairs=pairs)
    _check_sigma(sigma)

    def grad(meta, est_state, key, context):
        run_key, noise_key = split_estimator_key(key)
        keys = run_keys(run_key)
        flat, unravel = jax.flatten_util.ravel_pytree(meta)
        eps = sigma * jax.random.normal(noise_key, (pairs, flat.size), flat.dtype)

        def objective(m):
            m = unravel(m)
            value, (final, losses, _) = full_run(problem, weights, m, keys, context)
            return value, {"losses": losses, **metrics_at(problem, m, final, keys, problem.num_steps, context)}

        values, aux = jax.vmap(jax.vmap(objective))(_plus_minus(flat, eps))  # [2, P], [2, P, ...]
        g = jnp.mean((values[0] - values[1])[:, None] * eps, axis=0) / (2 * sigma**2)
        out = {"losses": jnp.mean(aux["losses"], axis=(0, 1)), **_mean_metrics(aux)}
        return (jnp.mean(values), out), unravel(g), est_state

    runs = 2 * pairs
    return Estimator(stateless, grad, Cost(runs * problem.num_steps, 0, 0, runs),
                     f"antithetic ES (sigma={sigma}, pairs={pairs})")


class PESState(NamedTuple):
    """Online PES's particles. ``states``: the inner states, every leaf ``[2, pairs, ...]`` (the + particles
    then the − ones); ``xi`` [pairs, n]: the perturbation each + particle has accumulated since its run
    started (its − partner's is −ξ); ``window`` [] int32: the index of the next window (0: restart);
    ``run_key``: raw key data of the run in progress; ``noise_key``: raw key data its perturbations come from."""

    states: PyTree
    xi: jax.Array
    window: jax.Array
    run_key: jax.Array
    noise_key: jax.Array


def pes(problem, window: int, sigma: float, pairs: int, *, online: bool = False,
        objective_at: str = "windows") -> Estimator:
    """Persistent evolution strategies: antithetic ES per window of K = `window` steps whose particles keep
    their inner states from window to window and remember the perturbations that produced them.

    Write the objective as ``Σ_j L_j(θ_1, ..., θ_j)``, L_j the weighted loss of window j (with the held-out
    objective at its end, weighted as ``objective_at`` says: see ``meta.truncated``) and θ_k the meta used in
    window k (all equal θ). Each + particle draws a fresh ``ε_j ~ N(0, σ²I)`` per window and runs window j with
    ``θ + ε_j`` (its − partner with ``θ − ε_j``), so after window j its state carries the sum
    ``ξ_j = ε_1 + ... + ε_j``. Since ``E[(L_j(θ+ε_{≤j}) − L_j(θ−ε_{≤j}))·ε_k] / (2σ²)`` is the smoothed
    ``∂L_j/∂θ_k`` for every k ≤ j, summing over k gives the window's estimate
    ``g_j = mean_i (L_j⁺ − L_j⁻)·ξ_j,i / (2σ²)``, and ``Σ_j g_j`` is unbiased for the gradient of the objective
    smoothed with an independent perturbation per window, ``∇_θ E L(θ+ε_1, ..., θ+ε_J)``: no truncation bias
    however short K, but the variance grows with the number of windows (ξ_j's variance is j·σ²).

    ``online=False``: one call runs all J = T/K windows from fresh particles (ε_j from ``fold_in(noise key,
    j)``); ``value`` the particles' mean objective, ``aux["losses"]`` [T]. ``online=True``: one call runs one
    window from the carried `PESState`, restarting every particle's run after the last window (as a learned
    optimiser's meta-training does) with the keys of the call that restarts it, and returns that window's
    ``g_j``, its mean window objective as ``value``, ``aux["losses"]`` [K] and ``aux["window"]`` j; J calls with
    one key k give exactly the full-run estimate with key k. Memory: 2·pairs states.
    """
    weights = check_problem(problem)
    check_positive_ints(window=window, pairs=pairs)
    _check_sigma(sigma)
    if problem.num_steps % window:
        raise ValueError(f"window {window} must divide the number of inner steps {problem.num_steps}")
    num_windows = problem.num_steps // window
    weights = weights.reshape(num_windows, window)
    v_all = jnp.asarray(window_objective_weights(problem, num_windows, objective_at))

    def start(flat, unravel, eps, keys, context):
        """Every particle's fresh inner state, started with its window-0 meta θ ± ε_0."""
        return jax.vmap(jax.vmap(lambda m: problem.init(unravel(m), keys.init, context)))(_plus_minus(flat, eps))

    def one_window(flat, unravel, states, eps, xi, j, keys, context):
        """Window j for every particle: ``(states, window objectives [2, P], losses [2, P, K], aux, g_j [n])``."""
        steps = j * window + jnp.arange(window)

        def run(m, s):
            value, (new, losses, _) = window_value(problem, unravel(m), s, steps, weights[j], v_all[j], keys,
                                                   context, False)
            return value, new, losses, metrics_at(problem, unravel(m), new, keys, (j + 1) * window, context)

        values, states, losses, extra = jax.vmap(jax.vmap(run))(_plus_minus(flat, eps), states)
        g = jnp.mean((values[0] - values[1])[:, None] * xi, axis=0) / (2 * sigma**2)
        return states, values, losses, _mean_metrics(extra), g

    def noise(noise_key, j, n, dtype):
        return sigma * jax.random.normal(jax.random.fold_in(noise_key, j), (pairs, n), dtype)

    runs = 2 * pairs
    if not online:
        def grad(meta, est_state, key, context):
            run_key, noise_key = split_estimator_key(key)
            keys = run_keys(run_key)
            flat, unravel = jax.flatten_util.ravel_pytree(meta)
            windows = jnp.arange(num_windows)
            eps = jax.vmap(lambda j: noise(noise_key, j, flat.size, flat.dtype))(windows)  # [J, P, n]
            xis = jnp.cumsum(eps, axis=0)

            def body(carry, inputs):
                states, total = carry
                j, e, xi = inputs
                states, values, losses, extra, g = one_window(flat, unravel, states, e, xi, j, keys, context)
                return (states, total + g), (values, losses, extra)

            carry = (start(flat, unravel, eps[0], keys, context), jnp.zeros_like(flat))
            (_, g), (values, losses, extra) = jax.lax.scan(body, carry, (windows, eps, xis))
            aux = {"losses": jnp.mean(losses, axis=(1, 2)).reshape(-1),  # [J, 2, P, K] -> [T]
                   **jax.tree.map(lambda a: a[-1], extra)}  # the metrics at the end of the run
            return (jnp.mean(jnp.sum(values, axis=0)), aux), unravel(g), est_state

        return Estimator(stateless, grad, Cost(runs * problem.num_steps, 0, 0, runs),
                         f"PES (K={window}, sigma={sigma}, pairs={pairs})")

    def init(meta, key, context):
        run_key, noise_key = split_estimator_key(key)
        flat, unravel = jax.flatten_util.ravel_pytree(meta)
        eps = jnp.zeros((pairs, flat.size), flat.dtype)
        return PESState(start(flat, unravel, eps, run_keys(run_key), context), eps, jnp.zeros((), jnp.int32),
                        jax.random.key_data(run_key), jax.random.key_data(noise_key))

    def grad_online(meta, est_state, key, context):
        flat, unravel = jax.flatten_util.ravel_pytree(meta)
        j = est_state.window
        restart = j == 0
        fresh_run, fresh_noise = (jax.random.key_data(k) for k in split_estimator_key(key))
        run_key = jnp.where(restart, fresh_run, est_state.run_key)
        noise_key = jnp.where(restart, fresh_noise, est_state.noise_key)
        keys = run_keys(run_key)
        eps = noise(jax.random.wrap_key_data(noise_key), j, flat.size, flat.dtype)
        xi = jnp.where(restart, 0.0, est_state.xi) + eps
        states = jax.lax.cond(restart, lambda s: start(flat, unravel, eps, keys, context), lambda s: s,
                              est_state.states)
        states, values, losses, extra, g = one_window(flat, unravel, states, eps, xi, j, keys, context)
        aux = {"losses": jnp.mean(losses, axis=(0, 1)), "window": j, **extra}
        return ((jnp.mean(values), aux), unravel(g),
                PESState(states, xi, (j + 1) % num_windows, run_key, noise_key))

    return Estimator(init, grad_online, Cost(runs * window, 0, 0, runs),
                     f"PES online (K={window}, sigma={sigma}, pairs={pairs})")


__all__ = ["PESState", "antithetic_es", "pes"]
