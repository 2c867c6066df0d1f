"""The inner run: meta-gradients through an unroll against finite differences, checkpointing, truncation,
forward mode, constrained meta-parameters, and the overflow-free exact meta-gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax import meta
from mnist1d_jax.studies import metalearn_lr as lr_study


@pytest.fixture(scope="module")
def tiny():
    """A 6-step unroll of the learning-rate study's 40→8→10 tanh MLP on random data: (task, batches, params0)."""
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    batches = (jax.random.normal(kx, (6, 16, 40)), jax.random.randint(ky, (6, 16), 0, 10))
    task = lr_study.inner_task(hidden=8)
    return task, batches, task.init(kp)


def test_meta_gradient_matches_finite_differences(tiny):
    task, batches, params0 = tiny
    f = lr_study.make_meta_loss(task, batches)
    value = jax.jit(lambda lr: f(lr, params0)[0])
    grad = jax.jit(jax.grad(lambda lr: f(lr, params0)[0]))
    for lr in (0.1, 0.6):
        eps = 1e-2
        fd = (value(lr + eps) - value(lr - eps)) / (2 * eps)
        assert float(grad(lr)) == pytest.approx(float(fd), rel=2e-3, abs=1e-4)


def test_checkpoint_truncation_and_forward_mode_give_the_same_gradient(tiny):
    task, batches, params0 = tiny
    g = lambda **kw: jax.grad(lambda lr: lr_study.make_meta_loss(task, batches, **kw)(lr, params0)[0])(0.5)
    plain = g(checkpoint=False)
    np.testing.assert_allclose(g(checkpoint=True), plain, rtol=1e-6)
    np.testing.assert_allclose(g(checkpoint=True, truncation=6), plain, rtol=1e-6)
    assert not np.isclose(g(checkpoint=True, truncation=2), plain, rtol=1e-3)  # truncation really cuts
    (_, _), fwd = meta.value_and_grad_forward(lr_study.make_meta_loss(task, batches))(jnp.float32(0.5), params0)
    np.testing.assert_allclose(fwd, plain, rtol=1e-5)


def test_jit_equals_eager(tiny):
    task, batches, params0 = tiny
    f = jax.value_and_grad(lambda lr: lr_study.make_meta_loss(task, batches)(lr, params0)[0])
    with jax.disable_jit():
        eager = f(0.3)
    jitted = jax.jit(f)(0.3)
    np.testing.assert_allclose(eager, jitted, rtol=1e-5)


@pytest.mark.parametrize("reparam, value", [(meta.positive, 0.37), (meta.unit_interval, 0.9), (meta.identity, -2.0)])
def test_reparametrisation_round_trip(reparam, value):
    x = jnp.float32(value)
    np.testing.assert_allclose(reparam.to_constrained(reparam.to_unconstrained(x)), x, rtol=1e-6)


def test_weight_decay_example_learns_a_weight_decay_that_lowers_the_meta_objective(tiny):
    """The README example: a positive weight decay in log space, metalearned through SGD, lowers the validation
    loss it is trained on from its starting value."""
    task, batches, params0 = tiny
    val = (batches[0][0] + 0.1, batches[1][0])

    def loss_fn(log_wd, params, batch):
        return task.loss(params, batch) + 0.5 * meta.positive.to_constrained(log_wd) * sum(
            jnp.sum(p**2) for p in jax.tree.leaves(params))

    step = meta.make_inner_step(loss_fn, meta.sgd(lambda m: 0.5))

    def meta_loss(m, p0):
        (params, _), _ = meta.unroll(step, (p0, ()), batches, m)
        return task.loss(params, val), ()

    state, metrics = meta.run_outer(meta_loss, optax.adam(0.3), jnp.log(1e-2), params0, 8)
    assert int(state.step) == 8
    assert float(metrics["value"][-1]) < float(metrics["value"][0])  # the meta-objective went down
    assert float(state.meta) != float(jnp.log(1e-2))


def test_scaled_meta_gradient_of_a_chaotic_unroll_is_exact_where_autodiff_overflows():
    """The logistic map s ← r·s(1 − s) at r = 3.99 stays in [0, 1] but doubles perturbations each step: after 200
    steps d loss / d r is ~1e60, beyond float32. The renormalised pass gets it right (checked in float64 along the
    same float32 trajectory); plain reverse mode overflows."""
    steps = 200

    def step(r, s, _):
        s_next = r * s * (1.0 - s)
        return s_next, s_next

    weights = jnp.full((steps,), 1.0 / steps, jnp.float32)
    xs, r, s0 = jnp.zeros(steps), jnp.float32(3.99), jnp.float32(0.3)
    (value, (_, traj)), scaled = jax.jit(
        lambda r: meta.unroll_value_and_grad(step, s0, xs, r, weights))(r)
    plain = jax.grad(lambda r: jnp.sum(weights * meta.unroll(step, s0, xs, r)[1]))(r)
    assert not np.isfinite(plain)
    # forward-mode derivative in float64 along the float32 trajectory: ds'/dr = s(1 - s) + r(1 - 2s)·ds/dr
    s_before = np.concatenate([[0.3], np.asarray(traj[:-1], np.float64)])
    ds, expected = 0.0, 0.0
    for s in s_before:
        ds = s * (1 - s) + 3.99 * (1 - 2 * s) * ds
        expected += ds / steps
    assert int(scaled.exponent) > 128
    ours = float(scaled.mantissa) * 2.0 ** int(scaled.exponent)
    assert abs(expected) > 1e50 and ours == pytest.approx(expected, rel=1e-3)
    assert float(value) == pytest.approx(float(np.mean(np.asarray(traj, np.float64))), rel=1e-5)


def test_clip_scaled_never_forms_the_overflowing_gradient():
    m = jnp.array([1.0, -3e-30, 0.0, 1e-32, -1e-37])
    clipped = np.asarray(meta.clip_scaled(meta.ScaledGrad(m, jnp.int32(100)), 0.1))
    # 2**100 ≈ 1.27e30: 1e-32·2**100 ≈ 0.0127 stays, -1e-37·2**100 ≈ -1.3e-7 stays, the rest clip at ±0.1
    np.testing.assert_allclose(clipped, [0.1, -0.1, 0.0, 1e-32 * 2.0**100, -1e-37 * 2.0**100], rtol=1e-5)
    same = meta.clip_scaled(meta.ScaledGrad(jnp.array([0.5, -0.05, 0.2]), jnp.int32(0)), 0.1)
    np.testing.assert_array_equal(same, jnp.clip(jnp.array([0.5, -0.05, 0.2]), -0.1, 0.1))
    assert np.all(np.isfinite(np.asarray(meta.clip_scaled(meta.ScaledGrad(m, jnp.int32(400)), 0.1))))


