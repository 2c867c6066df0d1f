"""Many hyperparameters: a tiny run end to end (twice: the same numbers), the per-parameter-decay hypergradient
against the closed form of a converged ridge regression, and the 15,210 hyperparameters of the Table-1 MLP."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnist1d_jax import meta
from mnist1d_jax.data.splits import Data
from mnist1d_jax.nn.init import count_params
from mnist1d_jax.report.runner import load_record, run_study
from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import many_hyperparameters as study


def test_tiny_run_end_to_end_and_deterministic(tmp_path):
    record = run_study(study, study.QUICK, tmp_path / "a", resume=False)
    saved = load_record(study, tmp_path / "a")
    s, h = study.QUICK.seeds, study.QUICK.hyper_steps
    assert saved["n_hyperparameters"] == 15_210 and sum(layer["size"] for layer in saved["layers"]) == 15_210
    assert np.shape(saved["fixed"]["test_acc"]) == (1 + len(study.QUICK.decay_grid), s)
    assert saved["best_decay_index"] >= 1  # a grid value, never "no decay"
    for method in study.METHODS:
        r = saved["learned"][method]
        for name in ("train_acc", "val_acc", "test_acc", "val_loss", "test_loss"):
            assert np.shape(r["curves"][name]) == (s, h) and np.all(np.isfinite(r["curves"][name]))
        spread = r["spread"]
        assert np.shape(spread["quantiles"]) == (6, 7) and np.asarray(spread["hist"]).sum() == s * 15_210
        assert np.shape(r["retrained"]["test_acc"]) == (s,)
    assert "stationarity" in saved["learned"]["implicit"]["curves"]
    assert (tmp_path / "a" / "many_hyperparameters.png").exists()
    assert any("decays learned" in row["quantity"] for row in study.report_rows(saved))
    again = run_study(study, study.QUICK, tmp_path / "b", resume=False, figures=False)
    for method in study.METHODS:
        np.testing.assert_array_equal(again["learned"][method]["spread"]["quantiles"],
                                      record["learned"][method]["spread"]["quantiles"])
        np.testing.assert_array_equal(again["learned"][method]["curves"]["test_acc"],
                                      record["learned"][method]["curves"]["test_acc"])
    np.testing.assert_array_equal(again["fixed"]["val_acc"], record["fixed"]["val_acc"])


# a ridge regression with one learned decay per weight, run by gradient descent to convergence
N, D = 40, 5


def _ridge():
    rng = np.random.default_rng(0)
    x, xv = rng.normal(size=(N, D)), rng.normal(size=(30, D))
    w = rng.normal(size=D)
    return x, x @ w + 0.5 * rng.normal(size=N), xv, xv @ w + 0.5 * rng.normal(size=30)


X, Y, XV, YV = _ridge()
U = np.log(np.array([0.05, 0.1, 0.3, 0.02, 0.2]))  # one log decay per weight


def _train_loss(u, theta, key, c):
    return 0.5 * jnp.mean((jnp.asarray(X, jnp.float32) @ theta - jnp.asarray(Y, jnp.float32)) ** 2) + study.penalty(
        u, theta)


def _val_loss(u, theta, key, c):
    return 0.5 * jnp.mean((jnp.asarray(XV, jnp.float32) @ theta - jnp.asarray(YV, jnp.float32)) ** 2)


def _problem(steps):
    task = meta.Task(lambda key: jnp.zeros(D), None)
    return meta.inner_problem(task, optax.sgd(0.3), lambda u, t, key, c: None, steps,
                              loss=lambda u, theta, batch: _train_loss(u, theta, None, None),
                              init=lambda u, key, c: jnp.zeros(D), objective=_val_loss, train_loss=_train_loss)


def test_per_parameter_decay_hypergradient_matches_the_converged_closed_form():
    """θ*(u) = (XᵀX/n + diag e^u)⁻¹ Xᵀy/n, dO/du = −e^u ⊙ θ* ⊙ A⁻¹∇O (float64); the warm-started Neumann
    estimator after 4 alternations of 100 steps, and the exact unroll of the converged run, both match it."""
    a = X.T @ X / N + np.diag(np.exp(U))
    theta = np.linalg.solve(a, X.T @ Y / N)
    grad_ref = -np.exp(U) * theta * np.linalg.solve(a, XV.T @ (XV @ theta - YV) / len(YV))
    u = jnp.asarray(U, jnp.float32)
    est = meta.implicit(_problem(100), solver="neumann", iterations=300, neumann_alpha=0.3, warm_start=True)
    state = est.init(u, jax.random.key(0), None)
    step = jax.jit(lambda s, k: est.grad(u, s, k, None))
    for i in range(4):  # alternate (with the decays held, so the run converges): 400 steps in all
        (_, aux), g, state = step(state, jax.random.key(i))
    assert float(aux["stationarity"]) < 1e-5
    np.testing.assert_allclose(g, grad_ref, rtol=2e-3, atol=1e-6)
    (_, _), g_exact, _ = jax.jit(lambda u: meta.exact(_problem(400)).grad(u, (), jax.random.key(0), None))(u)
    np.testing.assert_allclose(g_exact, grad_ref, rtol=2e-3, atol=1e-6)


def _tiny_data(n=60):
    k = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(k[0], (3 * n, 40))
    y = jax.random.randint(k[1], (3 * n,), 0, 10)
    return Data(x[:n], y[:n], x[n:2 * n], y[n:2 * n], x[2 * n:], y[2 * n:])


def test_every_parameter_of_the_table1_mlp_gets_a_hyperparameter():
    params = meta.classifier_task(study.MODEL).init(jax.random.key(0))
    assert count_params(params) == 15_210
    u = study.full_decays(params, 1e-3)
    assert jax.tree.structure(u) == jax.tree.structure(params)
    cfg = study.Config(total_steps=4, inner_steps=2, neumann_iterations=2, hessian_batch=30, batch_size=20)
    est = study.make_estimator("implicit", cfg, _tiny_data())  # (the truncated one: the end-to-end run)
    (value, _), g, _ = jax.jit(est.grad)(u, est.init(u, jax.random.key(1), params), jax.random.key(2), params)
    assert jax.tree.map(jnp.shape, g) == jax.tree.map(jnp.shape, params) and np.isfinite(float(value))
    assert count_params(g) == 15_210 and all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(g))
    # no decay is exp(-inf) = 0: the penalty vanishes, with no NaN
    assert float(study.penalty(study.full_decays(params, 0.0), params)) == 0.0


def test_config_rules():
    with pytest.raises(ConfigError, match="inner_steps"):
        study.Config(total_steps=100, inner_steps=30)
    with pytest.raises(ConfigError, match="hessian_batch"):
        study.Config(hessian_batch=3500)
