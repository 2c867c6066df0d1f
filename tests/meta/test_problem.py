"""The inner-problem object and its builder: keys reach the inner run (fresh inits and batch orders per key, the
same numbers for the same key), the held-out objective route equals the per-step weights route, jit equals eager
and vmap over seeds equals separate runs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax import meta
from mnist1d_jax.nn.models import MLP

N, B, T = 64, 8, 6


@pytest.fixture(scope="module")
def data():
    kx, ky, kv = jax.random.split(jax.random.key(3), 3)
    return {"x": jax.random.normal(kx, (N, 40)), "y": jax.random.randint(ky, (N,), 0, 10),
            "x_val": jax.random.normal(kv, (16, 40)), "y_val": jnp.arange(16) % 10}


TASK = meta.classifier_task(MLP(width=8, depth=1, residual=False, activation="tanh"))


def sampled(meta_, t, key, ctx):
    """A batch of B rows drawn with the step's key: a fresh data order for every key."""
    idx = jax.random.choice(key, N, (B,), replace=False)
    return ctx["x"][idx], ctx["y"][idx]


def val_loss(m, params, key, ctx):
    return TASK.loss(params, (ctx["x_val"], ctx["y_val"]))


def problem(**kw):
    """SGD with a learned log learning rate, a fresh init (from the key) and sampled batches."""
    return meta.inner_problem(TASK, lambda log_lr: optax.sgd(jnp.exp(log_lr)), sampled, T, objective=val_loss,
                              **kw)


def test_the_builder_makes_an_inner_problem_of_inner_states(data):
    p = problem()
    assert isinstance(p, meta.InnerProblem) and p.num_steps == T
    state = p.init(jnp.float32(-1.0), jax.random.key(0), data)
    assert isinstance(state, meta.InnerState) and jax.tree.structure(state.params) == jax.tree.structure(
        TASK.init(jax.random.key(0)))
    new, loss = p.step(jnp.float32(-1.0), state, jnp.int32(0), jax.random.key(1), data)
    assert loss.shape == () and np.isfinite(float(loss))
    # stacked batches: step t trains on batch t, T taken from them
    stacked = (data["x"][: 3 * B].reshape(3, B, 40), data["y"][: 3 * B].reshape(3, B))
    assert meta.inner_problem(TASK, optax.sgd(0.1), stacked).num_steps == 3


def test_keys_give_fresh_inits_and_batch_orders_and_the_same_key_the_same_numbers(data):
    est = meta.exact(problem(metrics=lambda m, params, key, ctx: {"w": params["Dense_0"]["kernel"][0, 0]}))
    grad = jax.jit(lambda k: est.grad(jnp.float32(-1.0), (), k, data))
    a, b, again = grad(jax.random.key(0)), grad(jax.random.key(1)), grad(jax.random.key(0))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(x, y)
    (_, aux_a), g_a, _ = a
    (_, aux_b), g_b, _ = b
    assert not np.allclose(aux_a["losses"], aux_b["losses"]) and float(g_a) != float(g_b)
    # the init differs with the key (the first loss is on different params and batches)...
    keys_a, keys_b = meta.run_keys(jax.random.key(0)), meta.run_keys(jax.random.key(1))
    assert not np.allclose(TASK.init(keys_a.init)["Dense_0"]["kernel"], TASK.init(keys_b.init)["Dense_0"]["kernel"])
    # ... and so do the batches: the same init with two keys' steps
    fixed = meta.exact(problem(init=lambda m, k, c: TASK.init(jax.random.key(9))))
    la = jax.jit(lambda k: fixed.grad(jnp.float32(-1.0), (), k, data)[0][1]["losses"])
    l0, l1 = la(jax.random.key(0)), la(jax.random.key(1))
    assert not np.allclose(l0[1:], l1[1:])
    # every estimator with the same key sees the same inner run (the same losses: forward, truncated)
    for other in (meta.forward(problem()), meta.truncated(problem(), 3)):
        (_, aux), _, _ = jax.jit(lambda k, o=other: o.grad(jnp.float32(-1.0), (), k, data))(jax.random.key(0))
        np.testing.assert_allclose(aux["losses"], aux_a["losses"], rtol=1e-6)


def test_the_objective_route_equals_the_weights_route(data):
    """A held-out loss of the final state, as ``objective``, and the same loss as the last step's (one-hot
    weight, a step that does not update): equal values and meta-gradients, exact and forward mode."""
    base = problem()

    def step_plus(m, s, t, key, ctx):  # T training steps, then one that only reports the validation loss
        trained, loss = base.step(m, s, t, key, ctx)
        return jax.lax.cond(t < T, lambda: (trained, loss), lambda: (s, val_loss(m, s.params, key, ctx)))

    weights = np.zeros(T + 1, np.float32)
    weights[-1] = 1.0
    via_weights = meta.InnerProblem(base.init, step_plus, T + 1, weights)
    key = jax.random.key(5)
    for make in (meta.exact, meta.forward):
        (v1, _), g1, _ = jax.jit(lambda k, make=make: make(base).grad(jnp.float32(-1.0), (), k, data))(key)
        (v2, _), g2, _ = jax.jit(lambda k, make=make: make(via_weights).grad(jnp.float32(-1.0), (), k, data))(key)
        # (the two runs' step keys agree for t < T; the objective key is unused by val_loss)
        np.testing.assert_allclose(v1, v2, rtol=1e-6)
        np.testing.assert_allclose(g1, g2, rtol=1e-5)
    assert float(g1) != 0.0


def test_weights_default_to_the_mean_loss_without_an_objective_and_to_zero_with_one(data):
    plain = meta.inner_problem(TASK, optax.sgd(0.1), sampled, T)
    (value, aux), _, _ = meta.exact(plain).grad(jnp.float32(0.0), (), jax.random.key(0), data)
    assert float(value) == pytest.approx(float(jnp.mean(aux["losses"])), rel=1e-6)
    (value, aux), _, _ = meta.exact(problem()).grad(jnp.float32(-1.0), (), jax.random.key(0), data)
    assert float(value) == pytest.approx(float(aux["objective"]), rel=1e-6)


def test_jit_equals_eager_and_vmap_over_seeds_equals_separate_runs(data):
    est = meta.exact(problem())
    us = jnp.array([-1.0, -2.0, -0.5])
    keys = jax.random.split(jax.random.key(2), 3)
    many = jax.jit(jax.vmap(lambda u, k: est.grad(u, (), k, data)))(us, keys)
    for i in range(3):
        with jax.disable_jit():
            eager = est.grad(us[i], (), keys[i], data)
        for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jax.tree.map(lambda x, i=i: x[i], many)),
                        strict=True):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("build, fragment", [
    (lambda: meta.inner_problem((None, None), optax.sgd(0.1), sampled, T), "task must be a meta.Task"),
    (lambda: meta.inner_problem(TASK, optax.sgd(0.1), sampled), "num_steps is required"),
    (lambda: meta.inner_problem(TASK, optax.sgd(0.1), (jnp.zeros((3, 2, 40)), jnp.zeros((4, 2)))),
     "the same leading axis"),
    (lambda: meta.inner_problem(TASK, optax.sgd(0.1), (jnp.zeros((3, 2, 40)), jnp.zeros((3, 2))), 5),
     "num_steps=5 but data holds 3 batches"),
    (lambda: meta.inner_problem(TASK, 0.1, sampled, T), "optimizer must be"),
    (lambda: meta.exact(problem()._replace(objective=3)), "objective must be a function"),
])
def test_bad_problems_are_refused_in_one_line(build, fragment):
    with pytest.raises(ValueError, match=fragment):
        build()
