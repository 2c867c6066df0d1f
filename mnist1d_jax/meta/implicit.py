"""Implicit differentiation: the hypergradient of a converged inner run by the implicit function theorem.

If the inner run ends at a minimiser ``θ*(λ)`` of ``train_loss(λ, θ)`` (its gradient in θ vanishes), then for the
held-out objective ``O(λ, θ*(λ))``

    dO/dλ = ∂O/∂λ − ∂²f/∂λ∂θ · H⁻¹ ∇_θ O,      f = train_loss, H = ∇²_θ f at θ*,

whatever path the run took. Only the final state is needed: no backward pass through the run, memory one state,
and the cost of the inverse-Hessian-vector product does not grow with the number of meta-parameters, which is
what makes thousands of hyperparameters affordable (Lorraine et al. 2020). The product ``u = H⁻¹ ∇_θ O`` is
approximated by K conjugate-gradient iterations or a K-term Neumann series ``α Σ_k (I − αH)^k ∇_θ O``, every
``H v`` a Hessian-vector product by forward-over-reverse (``jax.jvp`` of ``jax.grad``).

Why written here, not lineax/optimistix: each solver is a fifteen-line ``lax.scan`` with a fixed iteration count
(a static cost, no data-dependent stopping under vmap, and a CG that stops moving instead of dividing 0 by 0
once it has converged, which ``jax.scipy.sparse.linalg.cg`` with a zero tolerance does not); lineax would add
equinox and lineax as dependencies for that, and we differentiate the solve's *result* by hand (the formula
above), so no adjoint machinery (``custom_linear_solve``, lineax's) is needed.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.meta.estimators import Cost, Estimator, check_positive_ints, concrete, run_aux, stateless
from mnist1d_jax.meta.problem import (
    InnerProblem,
    InnerState,
    check_problem,
    objective_at,
    run_keys,
    run_steps,
    split_estimator_key,
)

PyTree = Any
SOLVERS = ("cg", "neumann")


def params_of(state) -> PyTree:
    """The parameters of an inner state: ``state.params`` for an `InnerState`, else the state itself."""
    return state.params if isinstance(state, InnerState) else state


def with_params(state, params) -> PyTree:
    """`state` with its parameters replaced (see `params_of`)."""
    return state._replace(params=params) if isinstance(state, InnerState) else params


def _vdot(a, b) -> jax.Array:
    return sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))


def _axpy(alpha, x, y):
    return jax.tree.map(lambda a, b: alpha * a + b, x, y)


def cg_solve(hvp, v, iterations: int):
    """K conjugate-gradient iterations on ``H u = v`` from u = 0 (H symmetric positive definite), a fixed count
    (a static cost under vmap). A step whose curvature ``pᵀHp`` is not positive (converged, or H indefinite
    along p) moves nothing, instead of dividing by zero."""
    def body(carry, _):
        u, r, p, rs = carry
        hp = hvp(p)
        curvature = _vdot(p, hp)
        ok = (curvature > 0) & (rs > 0)
        alpha = jnp.where(ok, rs / jnp.where(ok, curvature, 1.0), 0.0)
        u, r = _axpy(alpha, p, u), _axpy(-alpha, hp, r)
        rs_new = _vdot(r, r)
        beta = jnp.where(ok, rs_new / jnp.where(rs > 0, rs, 1.0), 0.0)
        return (u, r, _axpy(beta, p, r), jnp.where(ok, rs_new, 0.0)), None

    zero = jax.tree.map(jnp.zeros_like, v)
    (u, _, _, _), _ = jax.lax.scan(body, (zero, v, v, _vdot(v, v)), None, length=iterations)
    return u


def neumann_solve(hvp, v, iterations: int, alpha: float):
    """``α Σ_{k=0}^{K} (I − αH)^k v`` ≈ H⁻¹v (converges when 0 < α·λ < 2 for every eigenvalue λ of H)."""
    def body(carry, _):
        term, total = carry
        term = _axpy(-alpha, hvp(term), term)
        return (term, jax.tree.map(jnp.add, total, term)), None

    (_, total), _ = jax.lax.scan(body, (v, v), None, length=iterations)
    return jax.tree.map(lambda t: alpha * t, total)


def implicit(problem: InnerProblem, *, solver: str = "cg", iterations: int = 20, damping: float = 0.0,
             neumann_alpha: float = 0.1, warm_start: bool = False) -> Estimator:
    """The hypergradient at the final inner state by the implicit function theorem (see the module docstring).

    The problem needs an ``objective`` (what is differentiated; per-step weights must be zero: they depend on
    the path, which this estimator does not see) and a ``train_loss(meta, params, key, context)`` whose
    minimiser the run approaches (``params`` is ``state.params`` for an `InnerState`, else the whole state).
    The init's dependence on meta is ignored (a converged solution does not remember where it started).

    ``solver``: ``"cg"``, K = `iterations` conjugate-gradient iterations on ``(H + damping·I) u = ∇_θ O``
    (``damping`` > 0 for a Hessian that is not positive definite, as a network's often is not), or
    ``"neumann"``, the K-term series with step ``neumann_alpha`` (below 2 / the largest eigenvalue of H).
    ``aux``: the losses of the run, ``"objective"``, ``"stationarity"`` (‖∇_θ train_loss‖ at the final state:
    near 0 when the run converged, which the theorem assumes) and ``"solve_residual"`` (‖(H + damping) u −
    ∇_θ O‖ / ‖∇_θ O‖: how well the solve did), and the problem's metrics. The train loss gets the key
    ``fold_in(objective key, T + 1)``.

    ``warm_start=True``: the alternating scheme (Lorraine et al. 2020), one inner run that the hyperparameters
    follow. The estimator's state is the inner state: ``init`` makes it with ``problem.init`` (from the run key
    of its key), and each call continues it for ``num_steps`` more steps (t = 0..T-1 again, keys from this
    call's key), takes the hypergradient at where it ends and returns that state as the next one.
    """
    weights = check_problem(problem)
    check_positive_ints(iterations=iterations)
    if solver not in SOLVERS:
        raise ValueError(f"solver={solver!r} must be one of {', '.join(SOLVERS)}")
    if problem.objective is None or problem.train_loss is None:
        raise ValueError("implicit needs a problem with an objective (what is differentiated) and a train_loss "
                         "(what the inner run minimises)")
    # (weights None with an objective are zero by definition; given ones must be concretely zero)
    w = np.zeros(1) if problem.weights is None else concrete(weights)
    if w is None or w.any():
        raise ValueError("implicit differentiates the held-out objective at the final state only: the per-step "
                         "weights must be zero (weights=None with an objective)")
    if not (damping >= 0 and neumann_alpha > 0):
        raise ValueError(f"damping={damping!r} must be >= 0 and neumann_alpha={neumann_alpha!r} > 0")
    n = problem.num_steps

    def grad(meta, est_state, key, context):
        keys = run_keys(split_estimator_key(key)[0])
        frozen = jax.lax.stop_gradient(meta)
        state = est_state if warm_start else problem.init(frozen, keys.init, context)
        final, losses = run_steps(problem, frozen, state, jnp.arange(n), keys, context)
        final = jax.lax.stop_gradient(final)
        params = params_of(final)
        key_train = jax.random.fold_in(keys.objective, n + 1)

        def held_out(m, p):
            return objective_at(problem, m, with_params(final, p), keys, n, context)

        value, (direct, grad_params) = jax.value_and_grad(held_out, argnums=(0, 1))(meta, params)
        train_grad = lambda m, p: jax.grad(problem.train_loss, argnums=1)(m, p, key_train, context)  # noqa: E731

        def hvp(v):  # forward-over-reverse
            return _axpy(damping, v, jax.jvp(lambda p: train_grad(meta, p), (params,), (v,))[1])

        if solver == "cg":
            u = cg_solve(hvp, grad_params, iterations)
        else:
            u = neumann_solve(hvp, grad_params, iterations, neumann_alpha)
        u = jax.lax.stop_gradient(u)
        # −∂/∂λ ⟨∇_θ f(λ, θ*), u⟩: one reverse pass through the train loss's gradient
        indirect = jax.grad(lambda m: _vdot(train_grad(m, params), u))(meta)
        g = jax.tree.map(lambda a, b: a - b, direct, indirect)
        norm = lambda t: jnp.sqrt(_vdot(t, t))  # noqa: E731
        residual = norm(jax.tree.map(jnp.subtract, hvp(u), grad_params)) / jnp.maximum(norm(grad_params), 1e-30)
        aux = run_aux(problem, meta, final, losses, value, keys, context)
        aux |= {"stationarity": norm(train_grad(meta, params)), "solve_residual": residual}
        return (value, aux), g, (final if warm_start else est_state)

    def init_warm(meta, key, context):
        keys = run_keys(split_estimator_key(key)[0])
        return problem.init(jax.lax.stop_gradient(meta), keys.init, context)

    # the run forward only, K products in the solve, one for the residual, and a reverse pass of train_loss
    return Estimator(init_warm if warm_start else stateless, grad, Cost(n, 0, 0, 1, iterations + 1),
                     f"implicit ({solver}, K={iterations}" + (f", damping={damping}" if damping else "")
                     + (", warm start" if warm_start else "") + ")")


__all__ = ["SOLVERS", "cg_solve", "implicit", "neumann_solve", "params_of", "with_params"]
