"""The inner run: meta-gradients through an unroll against finite differences, checkpointing, truncation,
forward mode, constrained meta-parameters, and the overflow-free exact meta-gradient."""

import jax
import jax.numpy as jnp
import numpy as np
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


def make_meta_loss(task, batches, *, checkpoint=False, truncation=None):
    """``meta_loss(lr, params0)``: the mean of the losses of plain SGD with rate lr over `batches`."""
    step = meta.make_inner_step(lambda lr, p, b: task.loss(p, b), meta.sgd(lambda lr: lr))

    def meta_loss(lr, params0):
        _, losses = meta.unroll(step, (params0, ()), batches, lr, checkpoint=checkpoint, truncation=truncation)
        return losses.mean(), {}

    return meta_loss


def test_meta_gradient_matches_finite_differences(tiny):
    task, batches, params0 = tiny
    f = make_meta_loss(task, batches)
    value = jax.jit(lambda lr: f(lr, params0)[0])
    grad = jax.jit(jax.grad(lambda lr: f(lr, params0)[0]))
    for lr in (0.1, 0.6):
        eps = 1e-2
        fd = (value(lr + eps) - value(lr - eps)) / (2 * eps)
        assert float(grad(lr)) == pytest.approx(float(fd), rel=2e-3, abs=1e-4)


def test_checkpoint_truncation_and_forward_mode_give_the_same_gradient(tiny):
    task, batches, params0 = tiny
    g = lambda **kw: jax.grad(lambda lr: make_meta_loss(task, batches, **kw)(lr, params0)[0])(0.5)
    plain = g(checkpoint=False)
    np.testing.assert_allclose(g(checkpoint=True), plain, rtol=1e-6)
    np.testing.assert_allclose(g(checkpoint=True, truncation=6), plain, rtol=1e-6)
    assert not np.isclose(g(checkpoint=True, truncation=2), plain, rtol=1e-3)  # truncation really cuts
    (_, _), fwd = meta.value_and_grad_forward(make_meta_loss(task, batches))(jnp.float32(0.5), params0)
    np.testing.assert_allclose(fwd, plain, rtol=1e-5)


def test_jit_equals_eager(tiny):
    task, batches, params0 = tiny
    f = jax.value_and_grad(lambda lr: make_meta_loss(task, batches)(lr, params0)[0])
    with jax.disable_jit():
        eager = f(0.3)
    jitted = jax.jit(f)(0.3)
    np.testing.assert_allclose(eager, jitted, rtol=1e-5)


@pytest.mark.parametrize("reparam, value", [(meta.positive, 0.37), (meta.unit_interval, 0.9), (meta.identity, -2.0)])
def test_reparametrisation_round_trip(reparam, value):
    x = jnp.float32(value)
    np.testing.assert_allclose(reparam.to_constrained(reparam.to_unconstrained(x)), x, rtol=1e-6)


def test_the_overflow_free_pass_with_a_final_objective_equals_autodiff(tiny):
    """``unroll_value_and_grad(..., final_objective=)``: the weighted losses plus an objective of the final state,
    and its gradient, equal `jax.value_and_grad` of the same where that is finite."""
    task, batches, params0 = tiny
    step = meta.make_inner_step(lambda lr, p, b: task.loss(p, b), meta.sgd(lambda lr: lr))
    val = (batches[0][0] + 0.1, batches[1][0])
    weights = jnp.linspace(0.0, 0.2, 6)
    final_objective = lambda lr, state: task.loss(state[0], val) + 0.1 * lr  # noqa: E731

    def reference(lr):
        final, losses = meta.unroll(step, (params0, ()), batches, lr)
        return jnp.sum(weights * losses) + final_objective(lr, final)

    value, grad = jax.value_and_grad(reference)(jnp.float32(0.4))
    (ours, _), scaled = jax.jit(lambda lr: meta.unroll_value_and_grad(step, (params0, ()), batches, lr, weights,
                                                                      final_objective=final_objective))(0.4)
    assert float(ours) == pytest.approx(float(value), rel=1e-6)
    assert float(jnp.ldexp(scaled.mantissa, scaled.exponent)) == pytest.approx(float(grad), rel=1e-5)


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


