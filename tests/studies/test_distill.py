"""Dataset distillation: a tiny run end to end, the problem trains on whatever set it is given, the coresets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax import meta
from mnist1d_jax.data.coresets import class_labels, kmeans_per_class, random_per_class
from mnist1d_jax.nn.models import MLP
from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import distill as study


def test_tiny_run(run_quick, tmp_path):
    record, saved = run_quick("distill")
    for name in ("mlp", "cnn"):
        r = saved["models"][name]
        assert np.shape(r["distilled"]["x"]) == (20, 40) and np.shape(r["distilled"]["test"]) == (2,)
        assert len(r["candidates"]) == 2 and r["chosen"]["estimator"] in ("exact", "truncated")
        assert np.shape(r["baselines"]["random"]["test"]) == (2, 2)  # draws x inits
        assert np.shape(r["baselines"]["full"]["test"]) == (1, 2)
    assert set(saved["transfer"]) == {"mlp->cnn", "cnn->mlp"}
    assert (tmp_path / "distill" / "distill.png").exists()
    assert any("distilled examples per class" in r["quantity"] for r in study.report_rows(saved))


def test_the_problem_learns_its_training_set_and_step_size():
    """The meta-gradient reaches the synthetic inputs and the log step size, and is the finite difference (a
    tanh MLP: the ReLU nets' kinks make float32 differences of this size noisy)."""
    k = jax.random.split(jax.random.key(0), 3)
    x_real, y_real = jax.random.normal(k[0], (64, 40)), jnp.arange(64) % 10
    problem = study.distill_problem(MLP(activation="tanh"), 3, x_real, y_real, 32)
    m = {"x": jax.random.normal(k[1], (20, 40)), "log_lr": jnp.log(jnp.float32(0.1))}
    labels = jnp.asarray(class_labels(2))
    (value, _), g, _ = jax.jit(meta.exact(problem).grad)(m, (), k[2], labels)
    assert float(jnp.abs(g["x"]).sum()) > 0 and float(g["log_lr"]) != 0
    f = jax.jit(lambda u: meta.exact(problem).grad({**m, "log_lr": u}, (), k[2], labels)[0][0])
    h = 1e-2
    fd = (f(m["log_lr"] + h) - f(m["log_lr"] - h)) / (2 * h)
    assert float(g["log_lr"]) == pytest.approx(float(fd), rel=2e-2)


def test_coresets_take_k_per_class():
    y = np.repeat(np.arange(10), 7)
    draws = random_per_class(y, 3, 4, seed=0)
    assert draws.shape == (4, 30) and np.all(y[draws] == class_labels(3)[None])
    assert all(len(set(d)) == 30 for d in draws)
    x = np.random.default_rng(0).normal(size=(70, 5)) + y[:, None]
    centres = kmeans_per_class(x, y, 2)
    assert centres.shape == (20, 5) and np.allclose(centres.reshape(10, 2, 5).mean((1, 2)), np.arange(10), atol=0.5)
    with pytest.raises(ValueError, match="fewer than per_class=8"):
        random_per_class(y, 8, 1, 0)


def test_config_rules():
    with pytest.raises(ConfigError, match="window"):
        study.DistillConfig(steps=(3,), window=5)
    with pytest.raises(ConfigError, match="real_batch"):
        study.DistillConfig(real_batch=4000)
