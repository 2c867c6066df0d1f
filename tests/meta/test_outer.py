"""The outer loop: vmapped runs equal separate ones, a non-finite meta-gradient stops naming its step (and keeps
the last clean state), elementwise clipping, the lowest-objective iterate, keys per run and per outer step, and a
checkpointed run interrupted and resumed bit for bit."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax import meta
from mnist1d_jax.runtime.store import Store
from mnist1d_jax.studies import metalearn_lr as lr_study

KEY = jax.random.key(0)


def closed(loss):
    """An estimator of a closed-form meta-loss ``loss(meta, key, context) -> (value, aux)`` (reverse mode)."""
    return meta.from_value_and_grad(jax.value_and_grad(loss, has_aux=True), meta.Cost(1, 1), "closed form")


@pytest.fixture(scope="module")
def tiny():
    """A 6-step unroll of the learning-rate study's 40→8→10 tanh MLP on random data: (task, batches, params0)."""
    kx, ky, kp = jax.random.split(jax.random.key(0), 3)
    batches = (jax.random.normal(kx, (6, 16, 40)), jax.random.randint(ky, (6, 16), 0, 10))
    task = lr_study.inner_task(hidden=8)
    return task, batches, task.init(kp)


def test_vmap_over_seeds_and_initial_values_equals_separate_runs(tiny):
    task, batches, _ = tiny
    f = meta.exact(lr_study.inner_problem(task, batches))
    params = jax.vmap(lambda s: task.init(jax.random.key(s)))(jnp.arange(3))
    lr0 = jnp.array([1.5, 0.15, 0.5])
    keys = jax.random.split(KEY, 3)
    _, together = meta.run_outer(f, optax.sgd(0.3), lr0, params, 4, vmap=True, chunk=3, key=keys)
    for i in range(3):
        _, alone = meta.run_outer(f, optax.sgd(0.3), lr0[i], jax.tree.map(lambda a, i=i: a[i], params), 4,
                                  key=keys[i])
        np.testing.assert_allclose(together["record"][i], alone["record"], rtol=1e-5)
        np.testing.assert_allclose(together["value"][i], alone["value"], rtol=1e-5)


def test_nan_meta_gradient_stops_and_names_the_outer_step():
    # sgd(0.2) on loss sqrt(m - 0.3): m = 1.0, then ≈0.88, 0.75, 0.60, 0.31, then m < 0.3 → NaN at step 5
    loss = closed(lambda m, key, ctx: (jnp.sqrt(m - 0.3), ()))
    with pytest.raises(meta.NonFiniteMetaGradient, match=r"outer step 5 \(meta-loss NOT finite, 1 non-finite"):
        meta.run_outer(loss, optax.sgd(0.2), jnp.float32(1.0), None, 20, chunk=3, key=KEY)
    seen = []
    with pytest.raises(meta.NonFiniteMetaGradient, match="outer step 5 of run seed 1") as err:
        meta.run_outer(loss, optax.sgd(0.2), jnp.array([5.0, 1.0]), None, 20, chunk=3, vmap=True, key=KEY,
                       labels=["seed 0", "seed 1"], on_chunk=lambda s, m: seen.append(int(s.step[0])))
    assert seen == [3]  # stopped after the chunk that contained step 5, never ran on
    # the error carries the state and metrics of the last clean chunk (steps 0-2)
    assert np.all(np.asarray(err.value.state.step) == 3) and err.value.metrics["value"].shape == (2, 3)


def test_clipping_is_elementwise():
    loss = closed(lambda m, key, ctx: (jnp.sum(jnp.array([10.0, 0.01]) * m), ()))
    _, metrics = meta.run_outer(loss, optax.sgd(1.0), jnp.zeros(2), None, 1, clip=0.1, key=KEY)
    np.testing.assert_allclose(metrics["record"][0], [-0.1, -0.01], rtol=1e-6)


def test_outer_loop_keeps_the_iterate_with_the_lowest_objective():
    quadratic = closed(lambda m, key, _: ((m - 1.0) ** 2, {}))
    # outer step too large: 0 -> 3 -> -3 -> 9 ... diverges, so the best iterate is the first one
    state, metrics = meta.run_outer(quadratic, optax.sgd(1.5), jnp.float32(0.0), None, 4, key=KEY)
    assert int(state.best_step) == 0 and float(state.best_meta) == 0.0 and float(state.best_value) == 1.0
    # a converging run: the best is the last iterate whose objective was evaluated (before the last update)
    state, metrics = meta.run_outer(quadratic, optax.sgd(0.25), jnp.float32(0.0), None, 4, key=KEY)
    assert int(state.best_step) == 3 and float(state.best_value) == pytest.approx(float(metrics["value"][3]))
    assert float(state.best_meta) == pytest.approx(1.0 - 0.5**3)




@pytest.mark.parametrize("kw, fragment", [({"chunk": 0}, "chunk=0"), ({"num_steps": 0}, "num_steps=0"),
                                           ({"clip": -1.0}, "clip=-1.0")])
def test_run_outer_refuses_bad_arguments(kw, fragment):
    loss = closed(lambda m, key, ctx: (jnp.sum(m**2), ()))
    args = {"num_steps": 3, **kw}
    with pytest.raises(ValueError, match=fragment):
        meta.run_outer(loss, optax.sgd(0.1), jnp.ones(2), None, args.pop("num_steps"), key=KEY, **args)


def _noisy_problem():
    """A problem that uses its keys everywhere: θ₀ ~ N(0, 1) from the init key, a noisy quadratic per step."""
    def init(m, key, ctx):
        return jax.random.normal(key, (3,))

    def step(m, theta, t, key, ctx):
        noise = 0.1 * jax.random.normal(key, (3,))
        return theta - jnp.exp(m) * (theta + noise), 0.5 * jnp.sum(theta**2)

    return meta.InnerProblem(init, step, 8)


def test_every_run_and_every_outer_step_gets_its_own_key():
    est = meta.exact(_noisy_problem())
    _, metrics = meta.run_outer(est, optax.sgd(0.1), jnp.full(3, -1.0), None, 3, vmap=True, key=KEY)
    values = np.asarray(metrics["value"])  # [3 runs, 3 outer steps]
    assert len(set(values[:, 0].tolist())) == 3  # one key split three ways: three different first runs
    assert len(set(values[0].tolist())) == 3  # and a fresh inner run every outer step
    _, again = meta.run_outer(est, optax.sgd(0.1), jnp.full(3, -1.0), None, 3, vmap=True, key=KEY)
    np.testing.assert_array_equal(values, again["value"])  # the same key, the same numbers


@pytest.mark.parametrize("online", [False, True])
def test_a_checkpointed_run_interrupted_and_resumed_equals_the_uninterrupted_one(tmp_path, online):
    """Killed after its second chunk, the run resumes from the store and ends bit for bit where the
    uninterrupted run ends (state, metrics; PES's particles, keys and window index carried over)."""
    est = meta.pes(_noisy_problem(), 4, 0.05, 2, online=online)
    args = (est, optax.adam(0.05), jnp.full(2, -1.5), None, 7)
    kw = {"vmap": True, "key": jax.random.split(KEY, 2), "chunk": 2}
    whole, whole_metrics = meta.run_outer(*args, **kw)
    ck = meta.Checkpoint(Store(tmp_path), "outer", {"problem": "noisy", "online": online})

    def stop(state, metrics):
        if int(state.step[0]) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        meta.run_outer(*args, **kw, checkpoint=ck, on_chunk=stop)
    timing = {}
    resumed, metrics = meta.run_outer(*args, **kw, checkpoint=ck, timing=timing)
    for a, b in zip(jax.tree.leaves((whole, whole_metrics)), jax.tree.leaves((resumed, metrics)), strict=True):
        np.testing.assert_array_equal(a, b)
    assert [(s["from_step"], s["to_step"]) for s in timing["sessions"]] == [(0, 4), (4, 7)]
    # a finished checkpoint is read back without running anything; another tag starts afresh
    again, again_metrics = meta.run_outer(*args, **kw, checkpoint=ck)
    np.testing.assert_array_equal(again_metrics["value"], whole_metrics["value"])
    other = meta.Checkpoint(ck.store, "outer", {"problem": "other"})
    seen = []
    meta.run_outer(*args, **kw, checkpoint=other, on_chunk=lambda s, m: seen.append(int(s.step[0])))
    assert seen == [2, 4, 6, 7]
