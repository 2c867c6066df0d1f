"""Whole runs from a config: the harness counts, equal to a manual loop of train_step, determinism, vmap over
seeds, gradients through a run, the modern protocol's selection, augmentation."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax.core.runs import TrainConfig, train, train_jit, train_seeds
from mnist1d_jax.core.step import create_train_state, evaluate, train_step
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.nn.init import init_params


def synthetic(n=200, n_test=60, d=40, seed=0):
    """Learnable synthetic data: labels from a fixed random linear map of Gaussian inputs."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(d, 10))
    x, x_test = rng.normal(size=(n, d)), rng.normal(size=(n_test, d))
    return {"x": x, "y": (x @ w).argmax(1), "x_test": x_test, "y_test": (x_test @ w).argmax(1)}


TINY = TrainConfig(model="mlp", model_kwargs=(("width", 16),), batch_size=20, total_steps=12, eval_every=5)


@pytest.fixture(scope="module")
def data():
    return prepare_data(synthetic())


def test_harness_schedule_counts(data):
    _, metrics, summary = train_jit(jax.random.key(0), data, TINY)
    # T = 12, E = 5: T + 1 = 13 updates, evaluations after steps 0, 5, 10 (floor(T/E) + 1 = 3).
    assert metrics["batch_loss"].shape == (13,)
    np.testing.assert_array_equal(metrics["step"], [0, 5, 10])
    for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
        assert metrics[k].shape == (3,)
    assert float(summary["final_test_acc"]) == float(metrics["test_acc"][-1])
    assert "selected_test_acc" not in summary


def test_harness_matches_manual_loop(data):
    """train() equals a plain Python loop of train_step over sequential batches i0 = (s*B) mod N."""
    cfg = TINY
    state, metrics, _ = train_jit(jax.random.key(3), data, cfg)
    init_key, _ = jax.random.split(jax.random.key(3))
    s = create_train_state(init_key, cfg.make_model(), optax.adam(cfg.learning_rate))
    step = jax.jit(train_step)
    losses, evals = [], []
    for i in range(cfg.total_steps + 1):
        i0 = (i * cfg.batch_size) % data.x.shape[0]
        s, m = step(s, (data.x[i0:i0 + cfg.batch_size], data.y[i0:i0 + cfg.batch_size]))
        losses.append(float(m["loss"]))
        if i % cfg.eval_every == 0:
            evals.append(float(evaluate(s, data.x_test, data.y_test)["acc"]))
    np.testing.assert_allclose(metrics["batch_loss"], losses, rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(metrics["test_acc"], evals, atol=1e-3)
    for a, b in zip(jax.tree_util.tree_leaves(state.params), jax.tree_util.tree_leaves(s.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_same_key_same_numbers_and_vmap_equals_separate_runs(data):
    keys = jax.random.split(jax.random.key(7), 3)
    _, m_all, s_all = train_seeds(keys, data, TINY)
    assert m_all["test_acc"].shape == (3, 3)
    for i in range(3):
        _, m_one, s_one = train_jit(keys[i], data, TINY)
        np.testing.assert_allclose(m_all["batch_loss"][i], m_one["batch_loss"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(m_all["test_acc"][i], m_one["test_acc"], atol=1e-3)
    _, m_again, _ = train_seeds(keys, data, TINY)
    np.testing.assert_array_equal(m_again["batch_loss"], m_all["batch_loss"])  # same key, same numbers
    assert not np.allclose(m_all["batch_loss"][0], m_all["batch_loss"][1])  # different keys differ


def test_gradient_through_a_run_matches_finite_differences(data):
    """d(mean batch loss of a whole run)/d(learning rate), by jax.grad through both scans and by differences."""
    cfg = dataclasses.replace(TINY, total_steps=6, eval_every=3, optimizer="sgd", momentum=0.0)
    with jax.enable_x64(True):  # float64 so that central differences are accurate
        to64 = lambda t: jax.tree_util.tree_map(  # noqa: E731
            lambda a: jnp.asarray(a, jnp.float64) if jnp.issubdtype(a.dtype, jnp.floating) else a, t)
        d64 = to64(data)
        p64 = to64(init_params(cfg.make_model(), jax.random.key(0)))

        def objective(lr):
            _, metrics, _ = train(jax.random.key(0), d64, cfg, {"learning_rate": lr}, params=p64)
            return metrics["batch_loss"].mean()

        f = jax.jit(objective)
        g = jax.jit(jax.grad(objective))(jnp.float64(0.1))
        eps = 1e-4
        fd = (f(jnp.float64(0.1 + eps)) - f(jnp.float64(0.1 - eps))) / (2 * eps)
    assert np.isfinite(float(g))
    np.testing.assert_allclose(float(g), float(fd), rtol=1e-4)


def test_modern_protocol_selects_on_validation():
    data = prepare_data(synthetic(), val_fraction=0.1, val_seed=0)
    assert data.x.shape[0] == 180 and data.x_val.shape[0] == 20
    cfg = dataclasses.replace(TINY, protocol="modern")
    _, metrics, summary = train_jit(jax.random.key(1), data, cfg)
    assert metrics["val_acc"].shape == (3,)
    i = int(np.argmax(np.asarray(metrics["val_acc"])))
    assert float(summary["selected_test_acc"]) == float(metrics["test_acc"][i])
    assert int(summary["selected_step"]) == int(metrics["step"][i])
    with pytest.raises(ValueError, match="validation"):
        train(jax.random.key(1), prepare_data(synthetic()), cfg)


def test_the_run_learns():
    """Not just finite: on a learnable task the test accuracy climbs well above chance (10 %)."""
    data = prepare_data(synthetic(n=400, n_test=200))
    cfg = dataclasses.replace(TINY, total_steps=150, eval_every=50)
    _, metrics, summary = train_jit(jax.random.key(0), data, cfg)
    assert float(metrics["test_acc"][0]) < float(summary["final_test_acc"])
    assert float(summary["final_test_acc"]) > 50.0


def test_augmented_runs_are_deterministic_and_differ_from_plain_ones(data):
    aug = dataclasses.replace(TINY, augment_shift=3, augment_noise=0.05)
    _, m1, _ = train_jit(jax.random.key(0), data, aug)
    _, m2, _ = train_jit(jax.random.key(0), data, aug)
    _, m0, _ = train_jit(jax.random.key(0), data, TINY)
    np.testing.assert_array_equal(m1["batch_loss"], m2["batch_loss"])  # deterministic given the key
    assert not np.allclose(m1["batch_loss"][1:], m0["batch_loss"][1:])
    assert float(m1["batch_loss"][0]) != float(m0["batch_loss"][0])  # the very first batch is augmented too


@pytest.mark.parametrize("changes, fragment", [
    ({"model": "resnet"}, "TrainConfig.model='resnet'"),
    ({"learning_rate": float("nan")}, "TrainConfig.learning_rate=nan"),
    ({"weight_decay": -1e-4}, "TrainConfig.weight_decay"),
    ({"total_steps": 10, "eval_every": 1000}, "updates after the last evaluation would never be evaluated"),
    ({"model_kwargs": (("widht", 5),)}, "\\['widht'\\] are not fields of cnn"),
    ({"model_kwargs": ("width", 5)}, "pairs"),
])
def test_train_config_is_validated(changes, fragment):
    from mnist1d_jax.runtime.validation import ConfigError

    with pytest.raises(ConfigError, match=fragment):
        TrainConfig(**changes)
