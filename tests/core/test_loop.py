"""The one loop: its evaluation points, equal to a plain Python loop of train_step, the hooks, the tail."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax.core.evaluation import split_metrics
from mnist1d_jax.core.loop import best_on, eval_points, snapshot_at, train_loop
from mnist1d_jax.core.schedules import Sequential
from mnist1d_jax.core.step import create_train_state, evaluate, train_step
from mnist1d_jax.data.splits import Data
from mnist1d_jax.nn.models import MLP


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(40, 10))
    x, xt, xv = (jnp.asarray(rng.normal(size=(n, 40)), jnp.float32) for n in (100, 30, 20))
    lab = lambda a: jnp.asarray(np.asarray(a) @ w, jnp.float32).argmax(1).astype(jnp.int32)  # noqa: E731
    return Data(x, lab(x), xt, lab(xt), xv, lab(xv))


def test_eval_points():
    assert eval_points(13, 5, 0) == [0, 5, 10]
    assert eval_points(10) == [9]
    assert eval_points(10, 4, 3) == [3, 7]
    with pytest.raises(ValueError, match="first_eval"):
        eval_points(10, 4, 10)
    assert eval_points(10, eval_at=[7, 0, 3, 3]) == [0, 3, 7]
    with pytest.raises(ValueError, match="eval_at"):
        eval_points(10, eval_at=[10])
    with pytest.raises(ValueError, match="not both"):
        eval_points(10, 2, eval_at=[1])


@pytest.mark.parametrize("points", [[0, 1, 4, 12], [2, 9]])  # the last update evaluated, and a tail after it
def test_eval_at_equals_the_evenly_spaced_loop_and_a_python_loop(data, points):
    state = create_train_state(jax.random.key(0), MLP(width=8), optax.adam(1e-2))
    ev = lambda st: {"test_acc": evaluate(st, data.x_test, data.y_test)["acc"]}  # noqa: E731
    final, metrics, _ = jax.jit(lambda s: train_loop(s, Sequential(data.x, data.y, 20), 13, eval_at=points,
                                                     evaluate=ev))(state)
    even_final, even, _ = jax.jit(lambda s: train_loop(s, Sequential(data.x, data.y, 20), 13, eval_every=1,
                                                       evaluate=ev))(state)
    np.testing.assert_array_equal(metrics["step"], points)
    np.testing.assert_allclose(metrics["test_acc"], np.asarray(even["test_acc"])[points], atol=1e-6)
    np.testing.assert_allclose(metrics["batch_loss"], even["batch_loss"], rtol=2e-5, atol=1e-6)
    for a, b in zip(jax.tree.leaves(final.params), jax.tree.leaves(even_final.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # vmapped over seeds: one loop for every run, each run as if alone
    keys = jax.random.split(jax.random.key(3), 2)
    model, tx = MLP(width=8), optax.adam(1e-2)  # the same model and optimiser: states that stack
    states = [create_train_state(k, model, tx) for k in keys]
    stacked = jax.tree.map(lambda *a: jnp.stack(a), *states)
    _, vm, _ = jax.jit(jax.vmap(lambda s: train_loop(s, Sequential(data.x, data.y, 20), 13, eval_at=points,
                                                     evaluate=ev)))(stacked)
    _, alone, _ = jax.jit(lambda s: train_loop(s, Sequential(data.x, data.y, 20), 13, eval_at=points,
                                               evaluate=ev))(states[1])
    np.testing.assert_allclose(vm["test_acc"][1], alone["test_acc"], atol=1e-6)


@pytest.mark.parametrize("first", [0, 3, 7])  # block 0 partly before step 0, exactly at it, and with a head
def test_loop_equals_a_python_loop_of_train_step(data, first):
    state = create_train_state(jax.random.key(0), MLP(width=8), optax.adam(1e-2))
    run = jax.jit(lambda s: train_loop(s, Sequential(data.x, data.y, 20), 13, eval_every=4, first_eval=first,
                                       evaluate=lambda st: {"test_acc": evaluate(st, data.x_test, data.y_test)
                                                            ["acc"]}))
    final, metrics, _ = run(state)
    s, losses, accs = state, [], []
    step = jax.jit(train_step)
    for i in range(13):
        i0 = (i * 20) % 100
        s, m = step(s, (data.x[i0:i0 + 20], data.y[i0:i0 + 20]))
        losses.append(float(m["loss"]))
        if i in eval_points(13, 4, first):
            accs.append(float(evaluate(s, data.x_test, data.y_test)["acc"]))
    np.testing.assert_allclose(metrics["batch_loss"], losses, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["test_acc"], accs, atol=1e-6)
    np.testing.assert_array_equal(metrics["step"], eval_points(13, 4, first))
    for a, b in zip(jax.tree.leaves(final.params), jax.tree.leaves(s.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_hooks_keep_the_best_on_validation_and_a_snapshot(data):
    state = create_train_state(jax.random.key(1), MLP(width=8), optax.adam(3e-2))
    ev = split_metrics(data)

    def run(hook):
        return jax.jit(lambda s: train_loop(s, Sequential(data.x, data.y, 20), 31, eval_every=5, first_eval=0,
                                            evaluate=ev, hook=hook))(state)

    _, metrics, (best, best_params, at) = run(best_on("val_acc"))
    i = int(np.argmax(np.asarray(metrics["val_acc"])))  # the first maximum
    assert float(best) == float(metrics["val_acc"][i]) and int(at) == int(metrics["step"][i])
    _, m_snap, snap = run(snapshot_at(int(metrics["step"][i])))
    for a, b in zip(jax.tree.leaves(best_params), jax.tree.leaves(snap), strict=True):
        np.testing.assert_array_equal(a, b)
    reference = create_train_state(None, state.model, state.tx, params=best_params)
    np.testing.assert_allclose(evaluate(reference, data.x_val, data.y_val)["acc"], best, atol=1e-4)
    np.testing.assert_array_equal(m_snap["batch_loss"], metrics["batch_loss"])  # a hook never changes training
