"""The train step: states that compose (stack, vmap, one compile), a learning rate in the vmapped axis,
masks, the step's key, and a pluggable loss or objective."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax.core.augment import Augment
from mnist1d_jax.core.step import (
    create_train_state,
    cross_entropy,
    evaluate,
    mse_onehot,
    set_hyperparams,
    train_step,
)
from mnist1d_jax.nn.models import CNN, MLP


def stack(states):
    return jax.tree.map(lambda *a: jnp.stack(a), *states)


@pytest.fixture(scope="module")
def batch():
    x = jax.random.normal(jax.random.key(0), (20, 40))
    return x, jnp.arange(20) % 10


def test_states_made_separately_stack_vmap_and_share_one_compile(batch):
    tx = optax.adam(1e-2)
    states = [create_train_state(jax.random.key(s), MLP(width=16), tx) for s in range(3)]  # a new model each time
    assert jax.tree.structure(states[0]) == jax.tree.structure(states[1])
    step = jax.jit(train_step)
    step(states[0], batch)
    compiled = step._cache_size()
    for s in states[1:]:
        step(s, batch)
    assert step._cache_size() == compiled  # one compiled step serves every state made the same way
    stacked = stack(states)
    new, metrics = jax.jit(jax.vmap(train_step, in_axes=(0, None)))(stacked, batch)
    assert metrics["loss"].shape == (3,)
    for i, s in enumerate(states):
        one, m = step(s, batch)
        np.testing.assert_allclose(metrics["loss"][i], m["loss"], rtol=1e-6)
        for a, b in zip(jax.tree.leaves(new.params), jax.tree.leaves(one.params), strict=True):
            np.testing.assert_allclose(np.asarray(a)[i], np.asarray(b), rtol=1e-5, atol=1e-7)


def test_a_learning_rate_in_the_vmapped_axis(batch):
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)
    base = create_train_state(jax.random.key(0), CNN(), tx)
    lrs = jnp.array([0.0, 0.1, 0.3])
    states = set_hyperparams(stack([base] * 3), learning_rate=lrs)
    new, _ = jax.jit(jax.vmap(train_step, in_axes=(0, None)))(states, batch)
    moved = [float(sum(jnp.sum(jnp.abs(a[i] - b[i])) for a, b in
                       zip(jax.tree.leaves(new.params), jax.tree.leaves(states.params), strict=True)))
             for i in range(3)]
    assert moved[0] == 0.0 and 0 < moved[1] < moved[2]  # lr 0 leaves the weights alone; a larger lr moves them more
    np.testing.assert_allclose(moved[2] / moved[1], 3.0, rtol=1e-4)  # plain SGD: the step scales with the lr
    with pytest.raises(ValueError, match="inject_hyperparams"):
        set_hyperparams(create_train_state(jax.random.key(0), CNN(), optax.sgd(0.1)), learning_rate=0.2)


def test_mask_keeps_pruned_weights_and_matches_masked_forward(batch):
    model = MLP(width=16)
    state = create_train_state(jax.random.key(0), model, optax.adam(1e-2))
    mask = jax.tree.map(lambda p: (jax.random.uniform(jax.random.key(1), p.shape) > 0.5).astype(p.dtype),
                        state.params)
    state = state.replace(mask=mask)
    new, _ = jax.jit(train_step)(state, batch)
    for p0, p1, m in zip(*(jax.tree.leaves(t) for t in (state.params, new.params, mask)), strict=True):
        np.testing.assert_array_equal(np.asarray(p1)[np.asarray(m) == 0], np.asarray(p0)[np.asarray(m) == 0])
        assert not np.array_equal(np.asarray(p1)[np.asarray(m) == 1], np.asarray(p0)[np.asarray(m) == 1])
    masked = jax.tree.map(lambda p, m: p * m, state.params, mask)
    np.testing.assert_allclose(state.logits(batch[0]), model.apply({"params": masked}, batch[0]), rtol=1e-6)


def test_jit_equals_eager_and_the_metrics_are_of_the_batch_before_the_update(batch):
    state = create_train_state(jax.random.key(2), CNN(), optax.adam(1e-2))
    eager, m_eager = train_step(state, batch)
    jitted, m_jit = jax.jit(train_step)(state, batch)
    np.testing.assert_allclose(m_eager["loss"], m_jit["loss"], rtol=1e-6)
    before = evaluate(state, *batch)
    np.testing.assert_allclose(m_eager["loss"], before["loss"], rtol=1e-6)
    np.testing.assert_allclose(m_eager["acc"], before["acc"])
    assert 0.0 <= float(before["acc"]) <= 100.0  # in %, as every accuracy of the package
    assert int(jitted.step) == 1


def test_pluggable_loss(batch):
    state = create_train_state(jax.random.key(0), MLP(width=8), optax.sgd(0.1), loss_fn=mse_onehot)
    _, m = train_step(state, batch)
    logits = state.logits(batch[0])
    np.testing.assert_allclose(m["loss"], mse_onehot(logits, batch[1]), rtol=1e-6)
    assert not np.isclose(float(m["loss"]), float(cross_entropy(logits, batch[1])))


def test_augmenting_states_need_a_key_and_use_it(batch):
    state = create_train_state(jax.random.key(0), MLP(width=8), optax.sgd(0.1), augment=Augment(shift=3))
    with pytest.raises(ValueError, match="pass train_step a key"):
        train_step(state, batch)
    _, m1 = train_step(state, batch, jax.random.key(1))
    _, m1b = train_step(state, batch, jax.random.key(1))
    _, m2 = train_step(state, batch, jax.random.key(2))
    assert float(m1["loss"]) == float(m1b["loss"]) != float(m2["loss"])


def test_an_objective_replaces_the_supervised_loss(batch):
    def objective(state, params, batch, key):  # e.g. a loss without labels
        z = state.model.apply({"params": params}, batch[0])
        return jnp.mean(z**2), {"norm": jnp.sqrt(jnp.mean(z**2))}

    state = create_train_state(jax.random.key(0), MLP(width=8), optax.sgd(0.1), objective=objective)
    new, m = jax.jit(train_step)(state, batch)
    assert set(m) == {"loss", "norm"}
    assert float(jnp.mean(new.logits(batch[0]) ** 2)) < float(m["loss"])  # one SGD step lowers it
