"""`meta.batched`: the mean of the estimator over the runs of split keys, one state per run for stateful ones."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax import meta
from mnist1d_jax.nn.models import MLP

N, B, T = 64, 8, 4
TASK = meta.classifier_task(MLP(width=8, depth=1, residual=False, activation="tanh"))


@pytest.fixture(scope="module")
def data():
    kx, ky = jax.random.split(jax.random.key(3))
    return {"x": jax.random.normal(kx, (N, 40)), "y": jax.random.randint(ky, (N,), 0, 10)}


def problem():
    """SGD with a learned log step size, a fresh init and batch order from each run's key."""
    def batch(m, t, key, ctx):
        rows = jax.random.choice(key, N, (B,), replace=False)
        return ctx["x"][rows], ctx["y"][rows]

    return meta.inner_problem(TASK, lambda u: optax.sgd(jnp.exp(u)), batch, T)


def test_the_value_and_gradient_are_the_means_over_the_runs(data):
    est, key, u = meta.exact(problem()), jax.random.key(0), jnp.float32(-1.0)
    (value, aux), g, _ = jax.jit(meta.batched(est, 3).grad)(u, (), key, data)
    parts = [jax.jit(est.grad)(u, (), k, data) for k in jax.random.split(key, 3)]
    assert float(value) == pytest.approx(np.mean([float(p[0][0]) for p in parts]), rel=1e-5)
    assert float(g) == pytest.approx(np.mean([float(p[1]) for p in parts]), rel=1e-4)
    assert aux["losses"].shape == (3, T)  # aux stacked over the runs
    assert meta.batched(est, 3).cost.forward == 3 * est.cost.forward


def test_a_stateful_estimator_keeps_one_state_per_run_and_runs_the_outer_loop(data):
    est = meta.batched(meta.truncated(problem(), 2), 4)
    state = est.init(jnp.float32(-1.0), jax.random.key(1), data)
    assert all(leaf.shape[0] == 4 for leaf in jax.tree.leaves(state))
    _, metrics = meta.run_outer(est, optax.adam(0.1), jnp.float32(-1.0), data, 3, key=jax.random.key(2))
    assert np.all(np.isfinite(metrics["value"])) and metrics["value"].shape == (3,)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="n=0"):
        meta.batched(meta.exact(problem()), 0)
    with pytest.raises(ValueError, match="Estimator"):
        meta.batched(problem(), 2)
