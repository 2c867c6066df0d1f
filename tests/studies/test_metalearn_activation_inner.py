"""The learned-activation study's inner problem: hand-written gradients, meta-gradients, the tabulated g,
the piecewise-linear fits, the RMSProp variant's finite slope, the renormalised reverse pass."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax import meta
from mnist1d_jax.runtime.precision import use_precision
from mnist1d_jax.studies.metalearn_activation import activations, fit_pwl
from mnist1d_jax.studies.metalearn_activation import inner as core

KEY = jax.random.key(0)  # (unused by the study's problem: its randomness is fixed in the task)


def value_and_grad(cfg, estimator=meta.exact, **kw):
    """``(g, task) -> ((objective, aux), grad)`` of `estimator` on the study's inner problem."""
    est = estimator(core.inner_problem(cfg), **kw)
    return lambda g, task: est.grad(g, (), KEY, task)[:2]


def objective(cfg):
    return lambda g, task: value_and_grad(cfg)(g, task)[0][0]


@pytest.fixture(scope="module")
def act_task():
    cfg = core.InnerConfig(g_hidden=(16,), inner_steps=6, objective_from=2, hidden=12, batch_size=8,
                           test_examples=20)
    k = jax.random.split(jax.random.key(1), 4)
    x = jax.random.normal(k[0], (64, 40))
    y = jax.random.randint(k[1], (64,), 0, 10)
    return cfg, core.make_task(k[2], x, y, x[:20], y[:20], cfg), activations.init_g(k[3], cfg.g_hidden)


@pytest.mark.parametrize("setting", ["float32", "bf16"])
def test_hand_written_inner_gradient_equals_autodiff(act_task, setting):
    """Also under a reduced matmul precision: the hand-written backward pass reuses the rounded forward operands,
    which is what autodiff of the rounded (straight-through) forward pass computes."""
    cfg, task, gp = act_task
    act = core.make_act(cfg)
    batch = (task.x[0], task.y[0], task.keys[0])
    @jax.jit  # one compile for both (op by op is slow)
    def both(params):
        ours = core.loss_and_grad(core.value_and_derivative(act), gp, params, *batch, cfg.noise)
        return ours, jax.value_and_grad(
            lambda p: core.xent(core.forward(p, batch[0], batch[2], lambda h, k: act(gp, h, k), cfg.noise), batch[1])
        )(params)

    with use_precision(setting):
        (loss, grads), (ref_loss, ref) = both(task.params0)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-6)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7), grads, ref)


def test_activation_meta_gradient_matches_finite_differences(act_task):
    cfg, task, gp = act_task
    f = jax.jit(lambda g: objective(cfg)(g, task))
    grad = jax.jit(lambda g: value_and_grad(cfg)(g, task)[1])(gp)
    direction = jax.tree.map(lambda a: jnp.sign(a), grad)
    eps = 1e-2
    shift = lambda s: jax.tree.map(lambda p, d: p + s * d, gp, direction)
    fd = (f(shift(eps)) - f(shift(-eps))) / (2 * eps)
    analytic = sum(jnp.vdot(g, d) for g, d in zip(jax.tree.leaves(grad), jax.tree.leaves(direction), strict=True))
    assert float(analytic) == pytest.approx(float(fd), rel=2e-2)


def test_tabulated_g_option_matches_the_exact_meta_gradient(act_task):
    cfg, task, gp = act_task
    (exact_value, _), exact_grad = value_and_grad(cfg)(gp, task)
    table_cfg = core.InnerConfig(**{**cfg.__dict__, "g_table": 257})
    (approx_value, _), approx_grad = value_and_grad(table_cfg)(gp, task)
    exact, approx = (exact_value, exact_grad), (approx_value, approx_grad)
    np.testing.assert_allclose(approx[0], exact[0], rtol=1e-5)
    e, a = (np.concatenate([np.ravel(x) for x in jax.tree.leaves(t[1])]) for t in (exact, approx))
    assert np.linalg.norm(a - e) <= 1e-3 * np.linalg.norm(e)


def test_piecewise_linear_paper_fit_and_own_fit():
    x = jnp.array([-3.0, -2.0, -1.5, 0.0, 1.0])
    np.testing.assert_allclose(activations.piecewise_linear_paper(x), [0.45, 0.0, 0.475, -0.75, -0.2], atol=1e-6)
    grid = np.linspace(-5, 5, 100, dtype=np.float32)
    coef = np.array([0.1, 0.2, -1.0, 0.5, 0.3, -0.2, 1.1], np.float32)
    np.testing.assert_allclose(fit_pwl(np.asarray(activations.piecewise_linear(coef, grid)), grid), coef, atol=1e-4)


def test_rmsprop_meta_gradient_is_finite_when_v_underflows_to_zero():
    """A parameter whose gradients all underflowed has v = 0 and g = 0: naive √ gives 0·∞ = NaN."""
    cfg = core.InnerConfig()
    v, p = jnp.zeros(3), jnp.ones(3)

    def through(sqrt):
        def f(scale):  # the gradient is a function of a meta-parameter; at scale 0 it is exactly zero
            g = scale * jnp.array([0.0, 0.0, 1.0])
            v_new = cfg.rms_decay * v + (1 - cfg.rms_decay) * g * g
            return jnp.sum(p - cfg.inner_lr * g / (sqrt(v_new) + cfg.rms_eps))
        return jax.grad(f)(0.0)

    assert not np.isfinite(through(jnp.sqrt))
    assert np.isfinite(through(core.safe_sqrt))
    np.testing.assert_allclose(through(core.safe_sqrt), -cfg.inner_lr / cfg.rms_eps, rtol=1e-6)
    new_p, new_v = core.rmsprop({"w": p}, {"w": jnp.array([0.0, 1e-3, 1.0])}, {"w": v}, cfg)
    np.testing.assert_array_equal(new_p["w"], p - cfg.inner_lr * jnp.array([0.0, 1e-3, 1.0]) / (
        jnp.sqrt(new_v["w"]) + cfg.rms_eps))


def test_renormalised_reverse_pass_equals_autodiff(act_task):
    cfg, task, gp = act_task
    (value, aux), scaled = jax.jit(value_and_grad(cfg, overflow_safe=True))(gp, task)
    (ref_value, ref_aux), ref = jax.jit(value_and_grad(cfg))(gp, task)
    np.testing.assert_allclose(value, ref_value, rtol=1e-6)
    np.testing.assert_allclose(aux["metrics"]["test_acc"], ref_aux["metrics"]["test_acc"])
    grad = jax.tree.map(lambda m: jnp.ldexp(m, scaled.exponent), scaled.mantissa)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-8), grad, ref)
    # and in the outer loop: the same clipped updates as plain reverse mode
    problem = core.inner_problem(cfg)
    runs = [meta.run_outer(est, optax.sgd(0.3), gp, task, 2, clip=0.1, key=KEY)[1]
            for est in (meta.exact(problem), meta.exact(problem, overflow_safe=True))]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7), runs[1]["record"],
                 runs[0]["record"])


def test_tabulated_activation_is_the_learned_function_and_its_slope():
    gp = activations.init_g(jax.random.key(2), (16,))
    f = activations.tabulated_activation(gp)
    z = jnp.linspace(-6, 6, 101)
    np.testing.assert_allclose(f(z), activations.learned_activation(gp, z), atol=1e-5)
    exact_slope = jax.vmap(jax.grad(lambda t: activations.learned_activation(gp, t)))(z)
    np.testing.assert_allclose(jax.vmap(jax.grad(f))(z), exact_slope, atol=1e-4)


def test_truncated_meta_gradient_is_exact_for_one_window_and_keeps_the_forward_run(act_task):
    """Window = inner_steps is the exact gradient; shorter windows give the same objective and aux (the same
    forward run) and a gradient that differs (the short-horizon bias)."""
    cfg, task, gp = act_task
    (ref_value, ref_aux), ref = jax.jit(value_and_grad(cfg))(gp, task)
    for window in (6, 3):
        (value, aux), grad = jax.jit(value_and_grad(cfg, meta.truncated, window=window))(gp, task)
        np.testing.assert_allclose(value, ref_value, rtol=1e-6)
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5), aux, ref_aux)
        close = all(np.allclose(a, b, rtol=1e-4, atol=1e-8) for a, b in
                    zip(jax.tree.leaves(grad), jax.tree.leaves(ref), strict=True))
        assert close == (window == 6)
