"""The implicit estimator against closed forms: ridge regression with a learned L2 strength (exact solution and
hypergradient in float64), a logistic regression run to convergence (float64 finite differences of the converged
objective), and the exact unroll of a converged run."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize

from mnist1d_jax import meta

N, N_VAL, D = 40, 30, 5
U0 = float(np.log(0.3))  # the learned log L2 strength


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x, xv = rng.normal(size=(N, D)), rng.normal(size=(N_VAL, D))
    w = rng.normal(size=D)
    return x, x @ w + 0.5 * rng.normal(size=N), xv, xv @ w + 0.5 * rng.normal(size=N_VAL)


X, Y, XV, YV = _data()
CTX = {k: jnp.asarray(v, jnp.float32) for k, v in zip(("x", "y", "xv", "yv"), (X, Y, XV, YV), strict=True)}


def ridge_loss(u, theta, key, c):
    """``½ mean((Xθ − y)²) + ½ e^u ‖θ‖²``: the inner objective, minimised by the run."""
    return 0.5 * jnp.mean((c["x"] @ theta - c["y"]) ** 2) + 0.5 * jnp.exp(u) * jnp.sum(theta**2)


def val_loss(u, theta, key, c):
    return 0.5 * jnp.mean((c["xv"] @ theta - c["yv"]) ** 2)


def ridge_problem(steps=400, lr=0.3):
    """Full-batch gradient descent on `ridge_loss` from θ = 0; the meta-objective the validation loss."""
    task = meta.Task(lambda key: jnp.zeros(D), None)
    return meta.inner_problem(task, optax.sgd(lr), lambda u, t, key, c: None, steps,
                              loss=lambda u, theta, batch: ridge_loss(u, theta, None, CTX_TRACE[0]),
                              init=lambda u, key, c: jnp.zeros(D), objective=val_loss, train_loss=ridge_loss)


CTX_TRACE = [CTX]  # the builder's loss sees the batch, not the context: the data are module constants here


def ridge_closed_form(u=U0):
    """θ*(u) = (XᵀX/n + e^u I)⁻¹ Xᵀy/n and dO/du = ∇O(θ*)·(−A⁻¹ e^u θ*), in float64."""
    a = X.T @ X / N + np.exp(u) * np.eye(D)
    theta = np.linalg.solve(a, X.T @ Y / N)
    grad_val = XV.T @ (XV @ theta - YV) / N_VAL
    return 0.5 * np.mean((XV @ theta - YV) ** 2), grad_val @ np.linalg.solve(a, -np.exp(u) * theta)


def _grad(est, u=U0, ctx=CTX):
    return jax.jit(lambda u: est.grad(u, (), jax.random.key(0), ctx))(jnp.float32(u))


@pytest.mark.parametrize("solver, iterations, tol", [("cg", 10, 1e-4), ("neumann", 400, 1e-3)])
def test_ridge_hypergradient_equals_the_closed_form(solver, iterations, tol):
    value_ref, grad_ref = ridge_closed_form()
    est = meta.implicit(ridge_problem(), solver=solver, iterations=iterations, neumann_alpha=0.3)
    (value, aux), g, _ = _grad(est)
    assert float(value) == pytest.approx(value_ref, rel=1e-5)
    assert abs(float(g) - grad_ref) < tol * abs(grad_ref), (float(g), grad_ref)  # measured: 6e-7 / 2e-4
    assert float(aux["stationarity"]) < 1e-5 and float(aux["solve_residual"]) < 1e-3
    assert est.cost == meta.Cost(400, 0, 0, 1, iterations + 1)


def test_implicit_agrees_with_the_exact_unroll_of_a_converged_run():
    problem = ridge_problem()
    (_, _), g_exact, _ = _grad(meta.exact(problem))
    (_, _), g_implicit, _ = _grad(meta.implicit(problem, iterations=10))
    np.testing.assert_allclose(g_implicit, g_exact, rtol=1e-4)
    # a run stopped far from convergence: the unroll's gradient is another quantity, and stationarity says so
    short = ridge_problem(steps=3)
    (_, aux), g_short, _ = _grad(meta.implicit(short, iterations=10))
    assert float(aux["stationarity"]) > 1e-2 and abs(float(g_short) - float(g_exact)) > 1e-3 * abs(float(g_exact))


# a 3-class logistic regression with a learned L2 strength, trained by full-batch GD to convergence
def _logistic_data():
    rng = np.random.default_rng(1)
    x, xv = rng.normal(size=(60, 4)), rng.normal(size=(40, 4))
    w = rng.normal(size=(4, 3))
    label = lambda z: np.argmax(z @ w + rng.gumbel(size=(len(z), 3)), axis=1)  # noqa: E731
    return x, label(x), xv, label(xv)


LX, LY, LXV, LYV = _logistic_data()


def _xent(theta, x, y, lib):
    z = x @ theta
    z = z - z.max(axis=1, keepdims=True)
    return lib.mean(lib.log(lib.exp(z).sum(axis=1)) - z[lib.arange(len(y)), y])


def test_logistic_regression_run_to_convergence_matches_finite_differences():
    c = {"x": jnp.asarray(LX, jnp.float32), "y": jnp.asarray(LY), "xv": jnp.asarray(LXV, jnp.float32),
         "yv": jnp.asarray(LYV)}
    train = lambda u, th, key, c: _xent(th, c["x"], c["y"], jnp) + 0.5 * jnp.exp(u) * jnp.sum(th**2)  # noqa: E731
    objective = lambda u, th, key, c: _xent(th, c["xv"], c["yv"], jnp)  # noqa: E731
    problem = meta.InnerProblem(
        lambda u, key, c: jnp.zeros((4, 3)),
        lambda u, th, t, key, c: (th - 1.0 * jax.grad(train, argnums=1)(u, th, key, c), train(u, th, key, c)),
        600, objective=objective, train_loss=train)
    (value, aux), g, _ = jax.jit(lambda u: meta.implicit(problem, iterations=20).grad(
        u, (), jax.random.key(0), c))(jnp.float32(U0))

    def converged(u):  # float64, to a gradient norm of 1e-12
        f = lambda th: _xent(th.reshape(4, 3), LX, LY, np) + 0.5 * np.exp(u) * np.sum(th**2)  # noqa: E731
        th = scipy.optimize.minimize(f, np.zeros(12), method="BFGS", options={"gtol": 1e-12}).x
        return _xent(th.reshape(4, 3), LXV, LYV, np)

    h = 1e-4
    fd = (converged(U0 + h) - converged(U0 - h)) / (2 * h)
    assert float(value) == pytest.approx(converged(U0), rel=1e-5)
    assert float(aux["stationarity"]) < 1e-4
    assert float(g) == pytest.approx(fd, rel=1e-3), (float(g), fd)


def test_implicit_refuses_what_it_cannot_differentiate():
    plain = meta.InnerProblem(lambda u, k, c: 0.0, lambda u, s, t, k, c: (s, s), 3)
    with pytest.raises(ValueError, match="needs a problem with an objective"):
        meta.implicit(plain)
    weighted = ridge_problem()._replace(weights=np.ones(400) / 400)
    with pytest.raises(ValueError, match="per-step weights must be zero"):
        meta.implicit(weighted)
    with pytest.raises(ValueError, match="solver='lu' must be one of"):
        meta.implicit(ridge_problem(), solver="lu")
    with pytest.raises(ValueError, match="iterations=0"):
        meta.implicit(ridge_problem(), iterations=0)


def test_implicit_jits_and_vmaps_over_seeds():
    est = meta.implicit(ridge_problem(steps=200), iterations=8)
    us = jnp.log(jnp.array([0.1, 0.3, 1.0]))
    (_, _), gs, _ = jax.jit(jax.vmap(lambda u, k: est.grad(u, (), k, CTX)))(us, jax.random.split(jax.random.key(0), 3))
    for i, u in enumerate(np.asarray(us)):
        assert float(gs[i]) == pytest.approx(ridge_closed_form(float(u))[1], rel=2e-3)


def test_warm_start_continues_one_run_across_calls():
    """``warm_start=True`` carries the inner state: two calls of 200 steps are the cold 400-step run (full-batch
    gradient descent: the keys do not matter), hypergradient included."""
    warm = meta.implicit(ridge_problem(steps=200), iterations=10, warm_start=True)
    cold = meta.implicit(ridge_problem(steps=400), iterations=10)
    u = jnp.float32(U0)
    state = warm.init(u, jax.random.key(1), CTX)
    np.testing.assert_array_equal(state.params, np.zeros(D))
    step = jax.jit(lambda s, k: warm.grad(u, s, k, CTX))
    (_, _), _, state = step(state, jax.random.key(2))
    np.testing.assert_allclose(state.params, meta.run_inner(ridge_problem(steps=200), u, jax.random.key(2),
                                                            CTX)[0].params, rtol=1e-6)
    (value, _), g, state = step(state, jax.random.key(3))
    (value_cold, _), g_cold, _ = _grad(cold)
    assert float(value) == pytest.approx(float(value_cold), rel=1e-5)
    assert float(g) == pytest.approx(float(g_cold), rel=1e-4)
    assert "warm start" in warm.name and cold.init(u, jax.random.key(0), CTX) == ()
