"""The outer loop: vmapped runs equal separate ones, a non-finite meta-gradient stops naming its step,
elementwise clipping, the lowest-objective iterate."""

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


def test_vmap_over_seeds_and_initial_values_equals_separate_runs(tiny):
    task, batches, _ = tiny
    f = lr_study.make_meta_loss(task, batches)
    params = jax.vmap(lambda s: task.init(jax.random.key(s)))(jnp.arange(3))
    lr0 = jnp.array([1.5, 0.15, 0.5])
    _, together = meta.run_outer(f, optax.sgd(0.3), lr0, params, 4, vmap=True, chunk=3)
    for i in range(3):
        _, alone = meta.run_outer(f, optax.sgd(0.3), lr0[i], jax.tree.map(lambda a, i=i: a[i], params), 4)
        np.testing.assert_allclose(together["record"][i], alone["record"], rtol=1e-5)
        np.testing.assert_allclose(together["value"][i], alone["value"], rtol=1e-5)


def test_nan_meta_gradient_stops_and_names_the_outer_step():
    # sgd(0.2) on loss sqrt(m - 0.3): m = 1.0, then ≈0.88, 0.75, 0.60, 0.31, then m < 0.3 → NaN at step 5
    loss = lambda m, ctx: (jnp.sqrt(m - 0.3), ())
    with pytest.raises(meta.NonFiniteMetaGradient, match=r"outer step 5 \(meta-loss NOT finite, 1 non-finite"):
        meta.run_outer(loss, optax.sgd(0.2), jnp.float32(1.0), None, 20, chunk=3)
    seen = []
    with pytest.raises(meta.NonFiniteMetaGradient, match="outer step 5 of run seed 1"):
        meta.run_outer(loss, optax.sgd(0.2), jnp.array([5.0, 1.0]), None, 20, chunk=3, vmap=True,
                       labels=["seed 0", "seed 1"], on_chunk=lambda s, m: seen.append(int(s.step[0])))
    assert seen == [3]  # stopped after the chunk that contained step 5, never ran on


def test_clipping_is_elementwise():
    loss = lambda m, ctx: (jnp.sum(jnp.array([10.0, 0.01]) * m), ())
    _, metrics = meta.run_outer(loss, optax.sgd(1.0), jnp.zeros(2), None, 1, clip=0.1)
    np.testing.assert_allclose(metrics["record"][0], [-0.1, -0.01], rtol=1e-6)


def test_outer_loop_keeps_the_iterate_with_the_lowest_objective():
    quadratic = lambda m, _: ((m - 1.0) ** 2, {})  # noqa: E731
    # outer step too large: 0 -> 3 -> -3 -> 9 ... diverges, so the best iterate is the first one
    state, metrics = meta.run_outer(quadratic, optax.sgd(1.5), jnp.float32(0.0), None, 4)
    assert int(state.best_step) == 0 and float(state.best_meta) == 0.0 and float(state.best_value) == 1.0
    # a converging run: the best is the last iterate whose objective was evaluated (before the last update)
    state, metrics = meta.run_outer(quadratic, optax.sgd(0.25), jnp.float32(0.0), None, 4)
    assert int(state.best_step) == 3 and float(state.best_value) == pytest.approx(float(metrics["value"][3]))
    assert float(state.best_meta) == pytest.approx(1.0 - 0.5**3)




@pytest.mark.parametrize("kw, fragment", [({"chunk": 0}, "chunk=0"), ({"num_steps": 0}, "num_steps=0"),
                                           ({"clip": -1.0}, "clip=-1.0")])
def test_run_outer_refuses_bad_arguments(kw, fragment):
    loss = lambda m, ctx: (jnp.sum(m**2), ())  # noqa: E731
    args = {"num_steps": 3, **kw}
    with pytest.raises(ValueError, match=fragment):
        meta.run_outer(loss, optax.sgd(0.1), jnp.ones(2), None, args.pop("num_steps"), **args)
