"""Meta-gradient estimators on a problem whose meta-gradient is known in closed form.

The inner problem: the loss ``0.5·a·θ²`` trained by T = 20 steps of SGD ``θ ← θ − η·a·θ`` with a learned
``η = exp(u)``; the meta-objective is the mean of the 20 losses (each before its update). With a = θ₀ = 1,
``θ_t = r^t`` for ``r = 1 − η``, so ``L(u) = mean_t 0.5·r^{2t}`` and ``dL/du = mean_t −t·r^{2t−1}·η`` (the optimum
is η = 1/a = 1). Exact and forward mode must equal it, truncation must equal its closed form (each term scaled
by ``(t mod K)/t``), and the ES estimators' means must match it within 4 standard errors, with the smoothing
bias computed (by quadrature in float64) and shown to be far below that.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax import meta

T, K, LR0 = 20, 5, 0.3
U0 = float(np.log(LR0))


def _init(m, key, ctx):
    return ctx["theta0"]


def _step(m, theta, t, key, ctx):
    lr = jnp.exp(m["log_lr"] if isinstance(m, dict) else m)
    return theta - lr * ctx["a"] * theta, 0.5 * jnp.sum(ctx["a"] * theta**2)


PROBLEM = meta.InnerProblem(_init, _step, T)
CTX = {"theta0": jnp.float32(1.0), "a": jnp.float32(1.0)}


def mean_loss_per_step(u):
    """The meta-objective in float64 for per-step log-rates ``u [..., T]`` (a = θ₀ = 1)."""
    theta = np.concatenate([np.ones(u.shape[:-1] + (1,)), np.cumprod(1.0 - np.exp(u), axis=-1)[..., :-1]], -1)
    return np.mean(0.5 * theta**2, axis=-1)


def analytic_grad(u=U0, factor=lambda t: t):
    """``dL/du = mean_t −factor(t)·r^{2t−1}·η`` in float64; ``factor(t) = t`` is the exact gradient."""
    t = np.arange(T)
    eta = np.exp(u)
    return float(np.mean(-factor(t) * (1.0 - eta) ** (2 * t - 1) * eta))


def smoothed_grad(sigma, window):
    """d/du of ``E L(u + ε_1, ..., u + ε_J)``, one independent ``ε_j ~ N(0, σ²)`` per window of `window` steps
    (window = T: plain ES smoothing), by Gauss-Hermite quadrature and a float64 central difference."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(8 if window < T else 20)
    weights = weights / weights.sum()
    windows = T // window
    z = np.array(list(itertools.product(nodes, repeat=windows)))  # [nodes^J, J]
    w = np.prod(np.array(list(itertools.product(weights, repeat=windows))), axis=1)
    per_step = np.repeat(sigma * z, window, axis=1)  # [nodes^J, T]
    h = 1e-4
    smooth = lambda u: np.sum(w * mean_loss_per_step(u + per_step))  # noqa: E731
    return (smooth(U0 + h) - smooth(U0 - h)) / (2 * h)


def _call(est, u=U0, ctx=CTX, key=None, state=None):
    key = jax.random.key(0) if key is None else key
    state = est.init(u, key, ctx) if state is None else state
    return est.grad(jnp.float32(u), state, key, ctx)


def _sample(est, n, seed):
    """n independent estimates [n] (one per key), and their mean and standard error."""
    grads = jax.jit(jax.vmap(lambda k: _call(est, key=k)[1]))(jax.random.split(jax.random.key(seed), n))
    grads = np.asarray(grads, np.float64)
    return grads, grads.mean(), grads.std(ddof=1) / np.sqrt(n)


def test_exact_and_forward_equal_the_analytic_gradient():
    exact = analytic_grad()
    value_ref = float(mean_loss_per_step(np.full(T, U0)))
    for est in (meta.exact(PROBLEM), meta.exact(PROBLEM, checkpoint=False), meta.forward(PROBLEM)):
        (value, aux), g, state = jax.jit(lambda u, est=est: _call(est, u))(U0)
        assert float(g) == pytest.approx(exact, rel=1e-5) and float(value) == pytest.approx(value_ref, rel=1e-6)
        assert aux["losses"].shape == (T,) and state == ()
    (_, _), scaled, _ = _call(meta.exact(PROBLEM, overflow_safe=True))
    assert isinstance(scaled, meta.ScaledGrad)
    assert float(jnp.ldexp(scaled.mantissa, scaled.exponent)) == pytest.approx(exact, rel=1e-5)
    # and a float64 finite difference of the closed form agrees with the closed-form derivative itself
    h = 1e-5
    fd = (mean_loss_per_step(np.full(T, U0 + h)) - mean_loss_per_step(np.full(T, U0 - h))) / (2 * h)
    assert float(fd) == pytest.approx(exact, rel=1e-7)


def test_truncation_is_exact_at_full_window_and_shrinks_the_gradient_below_it():
    exact = analytic_grad()
    g_full = float(_call(meta.truncated(PROBLEM, T))[1])
    assert g_full == pytest.approx(exact, rel=1e-5)
    # window K: the state entering each window is a constant, so loss_t sees only the (t mod K) steps of its
    # own window: each term of the exact sum scaled by (t mod K)/t, same sign, smaller (short-horizon bias)
    (value, aux), g, _ = _call(meta.truncated(PROBLEM, K))
    closed = analytic_grad(factor=lambda t: t % K)
    assert float(g) == pytest.approx(closed, rel=1e-5) and 0.0 < closed / exact < 0.9
    assert float(value) == pytest.approx(float(mean_loss_per_step(np.full(T, U0))), rel=1e-6)  # same forward
    assert float(_call(meta.truncated(PROBLEM, 1))[1]) == 0.0  # each loss is taken before its window's update
    # K = 3 does not divide T = 20: the first window is the short one (2 steps), then six of 3
    uneven = analytic_grad(factor=lambda t: np.where(t < 2, t, (t - 2) % 3))
    assert float(_call(meta.truncated(PROBLEM, 3))[1]) == pytest.approx(uneven, rel=1e-5)
    # the same numbers as the library's truncated unroll (truncation=K), and online: J calls sum to one run
    step = lambda m, s, t: _step(m, s, t, None, CTX)  # noqa: E731
    via_unroll = jax.grad(lambda u: meta.unroll(step, CTX["theta0"], jnp.arange(T), u, truncation=K)[1].mean())
    assert float(via_unroll(jnp.float32(U0))) == pytest.approx(float(g), rel=1e-6)
    online = meta.truncated(PROBLEM, K, online=True)
    key = jax.random.key(0)
    state, total = online.init(U0, key, CTX), 0.0
    for j in range(T // K):
        (_, aux), gj, state = jax.jit(online.grad)(jnp.float32(U0), state, jax.random.fold_in(key, j), CTX)
        assert int(aux["window"]) == j and aux["losses"].shape == (K,)
        total += float(gj)
    assert total == pytest.approx(float(g), rel=1e-5) and int(state.window) == 0


def test_antithetic_es_mean_matches_the_exact_gradient_within_4_standard_errors():
    sigma = 0.01
    exact = analytic_grad()
    bias = smoothed_grad(sigma, T) - exact  # ES is unbiased for the smoothed objective: this is its offset
    grads, mean, se = _sample(meta.antithetic_es(PROBLEM, sigma, pairs=4), 1000, seed=1)
    assert se > 0 and abs(bias) < 0.01 * se  # measured: bias -1.9e-6, se 9.1e-4 (mean -0.04023 vs -0.04037)
    assert abs(mean - exact) < 4 * se, (mean, exact, se)


def test_pes_full_run_mean_matches_the_exact_gradient_and_equals_es_for_one_window():
    sigma = 0.01
    exact = analytic_grad()
    bias = smoothed_grad(sigma, K) - exact  # PES smooths with one independent ε per window
    grads, mean, se = _sample(meta.pes(PROBLEM, K, sigma, pairs=4), 1000, seed=2)
    assert se > 0 and abs(bias) < 0.01 * se  # measured: bias 1.0e-7, se 8.7e-4 (mean -0.04063)
    assert abs(mean - exact) < 4 * se, (mean, exact, se)
    # one window of T steps is plain antithetic ES (PES draws window j's ε from fold_in(key, j))
    key = jax.random.key(3)
    one = _call(meta.pes(PROBLEM, T, sigma, 4), key=key)
    es = _call(meta.antithetic_es(PROBLEM, sigma, 4), key=jax.random.fold_in(key, 0))
    np.testing.assert_allclose(one[1], es[1], rtol=1e-5)
    np.testing.assert_allclose(one[0][0], es[0][0], rtol=1e-6)


def test_online_pes_over_one_run_of_windows_is_the_full_run_estimate():
    sigma, pairs, windows = 0.01, 4, T // K
    full, online = meta.pes(PROBLEM, K, sigma, pairs), meta.pes(PROBLEM, K, sigma, pairs, online=True)

    def accumulate(key):
        """J consecutive online calls (keys fold_in(key, j)), then one more (a restart): (Σ g_j, windows, g).
        The call that starts a run (j = 0) fixes its keys: the later calls' keys are not used."""
        state = online.init(jnp.float32(U0), key, CTX)

        def body(carry, j):
            state, total = carry
            (_, aux), g, state = online.grad(jnp.float32(U0), state, jax.random.fold_in(key, j), CTX)
            return (state, total + g), aux["window"]

        (state, total), seen = jax.lax.scan(body, (state, 0.0), jnp.arange(windows))
        (_, _), again, state = online.grad(jnp.float32(U0), state, jax.random.fold_in(key, 0), CTX)
        return total, seen, again, state.window

    key = jax.random.key(4)
    total, seen, again, window = jax.jit(accumulate)(key)
    np.testing.assert_allclose(total, _call(full, key=jax.random.fold_in(key, 0))[1], rtol=1e-5)
    assert list(np.asarray(seen)) == list(range(windows)) and int(window) == 1
    # after the last window every particle restarts: the next call is the first call again
    first = online.grad(jnp.float32(U0), online.init(jnp.float32(U0), key, CTX), jax.random.fold_in(key, 0), CTX)
    np.testing.assert_allclose(again, first[1], rtol=1e-6)
    # and so the accumulated online estimate has the exact gradient as its expectation too
    totals = np.asarray(jax.jit(jax.vmap(lambda k: accumulate(k)[0]))(jax.random.split(jax.random.key(5), 500)),
                        np.float64)
    se = totals.std(ddof=1) / np.sqrt(totals.size)
    assert se > 0 and abs(totals.mean() - analytic_grad()) < 4 * se


# a 2-D quadratic (a = 1, 3) with one learned log-rate per coordinate held in a dict: pytree meta (10 steps:
# the eager reference runs every step in Python)
PROBLEM_2D = meta.InnerProblem(_init, _step, 2 * K)
ESTIMATORS_2D = {
    "exact": meta.exact(PROBLEM_2D), "exact_safe": meta.exact(PROBLEM_2D, overflow_safe=True),
    "forward": meta.forward(PROBLEM_2D), "truncated": meta.truncated(PROBLEM_2D, K),
    "truncated_online": meta.truncated(PROBLEM_2D, K, online=True), "es": meta.antithetic_es(PROBLEM_2D, 0.05, 3),
    "pes": meta.pes(PROBLEM_2D, K, 0.05, 3), "pes_online": meta.pes(PROBLEM_2D, K, 0.05, 3, online=True),
}


@pytest.mark.parametrize("name", sorted(ESTIMATORS_2D))
def test_every_estimator_jits_like_eager_and_vmaps_over_three_seeds(name):
    est = ESTIMATORS_2D[name]
    calls = 2 if name.endswith("online") else 1  # two calls carry an online state once

    def run(m, ctx, key):
        state = est.init(m, key, ctx)
        for c in range(calls):
            out = est.grad(m, state, jax.random.fold_in(key, c), ctx)
            state = out[2]
        return out

    seeds = 3
    ms = {"log_lr": jnp.log(jnp.array([[0.3, 0.1], [0.2, 0.2], [0.5, 0.05]]))}
    ctxs = {"theta0": jax.random.normal(jax.random.key(8), (seeds, 2)),
            "a": jnp.tile(jnp.array([1.0, 3.0]), (seeds, 1))}
    keys = jax.random.split(jax.random.key(7), seeds)
    first = lambda tree: jax.tree.map(lambda x: x[0], tree)  # noqa: E731
    with jax.disable_jit():
        eager = run(first(ms), first(ctxs), keys[0])
    (values, aux), grads, states = many = jax.jit(jax.vmap(run))(ms, ctxs, keys)
    # seed 0 of the jitted, vmapped call is seed 0 alone, eager
    for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(first(many)), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-7)
    grads = grads.mantissa if isinstance(grads, meta.ScaledGrad) else grads
    assert values.shape == (seeds,) and grads["log_lr"].shape == (seeds, 2)
    assert aux["losses"].shape[0] == seeds and all(x.shape[0] == seeds for x in jax.tree.leaves(states))
    assert len(set(np.asarray(grads["log_lr"][:, 0]).tolist())) == seeds  # the seeds really differ


@pytest.mark.parametrize("est", [meta.exact(PROBLEM), meta.antithetic_es(PROBLEM, 0.01, 4),
                                 meta.pes(PROBLEM, K, 0.01, 4, online=True)], ids=["exact", "es", "pes_online"])
def test_the_outer_loop_with_an_estimator_moves_the_rate_toward_its_optimum(est):
    starts = jnp.log(jnp.array([0.2, 0.3, 0.4]))
    ctxs = jax.tree.map(lambda x: jnp.full((3,), x), CTX)
    keys = jax.random.split(jax.random.key(1), 3)
    steps = 6
    state, metrics = meta.run_outer(est, optax.sgd(2.0), starts, ctxs, steps, key=keys, vmap=True, chunk=4)
    rates = np.exp(np.asarray(metrics["record"]))
    assert rates.shape == (3, steps) and np.all(rates[:, -1] > np.exp(starts)) and np.all(rates < 1.0)
    assert np.all(np.asarray(state.step) == steps)
    if isinstance(state.estimator_state, meta.PESState):
        assert np.all(np.asarray(state.estimator_state.window) == steps % (T // K))  # round the windows and on
        # one run alone, in one chunk, is run 1 of the vmapped, chunked loop: key and state carry over chunks
        _, alone = meta.run_outer(est, optax.sgd(2.0), starts[1], CTX, steps, key=keys[1])
        np.testing.assert_allclose(alone["record"], metrics["record"][1], rtol=1e-6)


def test_a_hand_written_value_and_grad_runs_the_plain_outer_loop():
    """`from_value_and_grad` of ``jax.value_and_grad`` (or forward mode) gives the hand-written gradient-descent
    trajectory, and the exact estimator of the same objective stated as a one-step problem gives it too."""
    opt = optax.adam(0.1)
    loss = lambda m, key, ctx: (jnp.sum((m - ctx) ** 2) + jnp.sum(jnp.sin(3 * m)), {"m": m})  # noqa: E731
    target = jnp.array([0.5, -1.0])
    m, opt_state = jnp.ones(2), opt.init(jnp.ones(2))
    for _ in range(5):
        g = jnp.clip(jax.grad(lambda m: loss(m, None, target)[0])(m), -1.0, 1.0)
        updates, opt_state = opt.update(g, opt_state, m)
        m = optax.apply_updates(m, updates)
    cost = meta.Cost(1, 1)
    for vg in (jax.value_and_grad(loss, has_aux=True), meta.value_and_grad_forward(loss)):
        final, metrics = meta.run_outer(meta.from_value_and_grad(vg, cost, "hand-written"), opt, jnp.ones(2),
                                        target, 5, clip=1.0, key=jax.random.key(0))
        np.testing.assert_allclose(final.meta, m, rtol=1e-6)
    problem = meta.InnerProblem(lambda m, k, ctx: m, lambda m, s, t, k, ctx: (s, loss(m, k, ctx)[0]), 1)
    _, via_estimator = meta.run_outer(meta.exact(problem), opt, jnp.ones(2), target, 5, clip=1.0,
                                      key=jax.random.key(0))
    np.testing.assert_allclose(via_estimator["record"], metrics["record"], rtol=1e-6)


@pytest.mark.parametrize("build, fragment", [
    (lambda: meta.truncated(PROBLEM, 3, online=True), "window 3 must divide the number of inner steps 20"),
    (lambda: meta.truncated(PROBLEM, 21), "window 21 must be at most the number of inner steps 20"),
    (lambda: meta.pes(PROBLEM, 6, 0.1, 2), "window 6 must divide"),
    (lambda: meta.antithetic_es(PROBLEM, 0.0, 2), "sigma=0.0 must be a finite number > 0"),
    (lambda: meta.antithetic_es(PROBLEM, 0.1, 0), "pairs=0 must be an integer >= 1"),
    (lambda: meta.exact(PROBLEM._replace(weights=np.ones(3))), r"weights must have shape \(20,\)"),
    (lambda: meta.exact(PROBLEM._replace(num_steps=0)), "num_steps=0"),
    (lambda: meta.exact((_init, _step, T)), "problem must be a meta.InnerProblem"),
    (lambda: _call(meta.exact(meta.InnerProblem(lambda m, k, c: m * c["theta0"], _step, T), overflow_safe=True)),
     "init must not depend on meta"),
    (lambda: meta.run_outer(lambda m, k, c: (m, ()), optax.sgd(0.1), jnp.float32(U0), CTX, 2,
                            key=jax.random.key(0)), "expected a meta.Estimator"),
    (lambda: meta.run_outer(meta.exact(PROBLEM), optax.sgd(0.1), jnp.float32(U0), CTX, 2), "needs key="),
    (lambda: meta.run_outer(meta.exact(PROBLEM), optax.sgd(0.1), jnp.zeros(3), CTX, 2, vmap=True,
                            key=jax.random.split(jax.random.key(0), 2)), r"keys of shape \(2,\) for 3 runs"),
    (lambda: meta.truncated(PROBLEM, K, objective_at="start"), "objective_at='start' must be one of"),
    (lambda: meta.exact(PROBLEM).grad(jnp.float32(U0), (), None, CTX), "a key is required"),
])
def test_bad_arguments_are_refused_in_one_line(build, fragment):
    with pytest.raises(ValueError, match=fragment):
        build()


def test_truncated_skips_zero_weight_windows_without_changing_the_estimate():
    """An objective that starts late (the last 2 of 4 windows): the leading windows run forward only, and the
    value, losses and gradient equal those with traced weights (no skipping), and the metrics see the final
    state."""
    late = PROBLEM._replace(weights=np.where(np.arange(T) >= 2 * K, 1.0 / (T - 2 * K), 0.0),
                            metrics=lambda m, s, k, c: {"state": s})
    skipping = meta.truncated(late, K)
    assert skipping.cost.backward == T - 2 * K
    (value, aux), g, _ = jax.jit(lambda u: _call(skipping, u))(jnp.float32(U0))

    @jax.jit
    def traced(u, weights):  # built under jit: the weights are unknown, so every window is differentiated
        return _call(meta.truncated(late._replace(weights=weights), K), u)
    (ref_value, ref_aux), ref_g, _ = traced(jnp.float32(U0), jnp.asarray(late.weights, jnp.float32))
    traced_uneven = jax.jit(lambda u, w: _call(meta.truncated(late._replace(weights=w), 3), u)[1])
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    np.testing.assert_allclose(aux["losses"], ref_aux["losses"], rtol=1e-6)
    np.testing.assert_allclose(g, ref_g, rtol=1e-6)
    assert float(g) != 0.0
    final, _ = meta.unroll(lambda m, s, t: _step(m, s, t, None, CTX), CTX["theta0"], jnp.arange(T),
                           jnp.float32(U0))
    np.testing.assert_allclose(aux["metrics"]["state"], final, rtol=1e-6)
    # an uneven window (K = 3: a 2-step first window, then six of 3) whose zero-weight steps run forward only
    uneven = meta.truncated(late, 3)
    assert uneven.cost.backward == T - 8  # steps 0..7 forward only (the first weighted step, 10, is in 8..10)
    np.testing.assert_allclose(jax.jit(lambda u: _call(uneven, u)[1])(jnp.float32(U0)),
                               traced_uneven(jnp.float32(U0), jnp.asarray(late.weights, jnp.float32)), rtol=1e-6)


def test_costs_count_inner_steps():
    assert meta.exact(PROBLEM).cost == meta.Cost(forward=2 * T, backward=T, tangent=0, states=T, hvp=0)
    assert meta.truncated(PROBLEM, K).cost.states == K
    assert meta.forward(PROBLEM).cost == meta.Cost(forward=T, backward=0, tangent=T, states=1)
    assert meta.antithetic_es(PROBLEM, 0.1, 8).cost.forward == 16 * T
    assert meta.pes(PROBLEM, K, 0.1, 8).cost.forward == 16 * T
    assert meta.pes(PROBLEM, K, 0.1, 8, online=True).cost.forward == 16 * K
