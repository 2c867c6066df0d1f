"""The learned-activation study: a tiny run end to end (baselines, transfer), resuming from its saved outer loop."""

import numpy as np
import pytest

from mnist1d_jax.report.runner import Context
from mnist1d_jax.runtime.store import Store
from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import metalearn_activation as study
from mnist1d_jax.studies.metalearn_activation.outer_loop import _learning_fields


def test_tiny_run(run_quick, tmp_path):
    record, saved = run_quick("metalearn_activation")
    assert saved["completed_outer_steps"] == 2 and saved["stopped_early"] is None
    assert set(saved["evaluation"]) >= {"learned", "learned_best", "relu", "pwl_own"}
    assert set(saved["transfer"]["table"]) == {"mlp", "cnn"}
    assert np.shape(saved["curves"]["test_acc"]) == (1, 2)
    assert any(r["quantity"].startswith("test accuracy, learned activation") for r in study.report_rows(saved))
    # the headline (truncated) run and the paper-faithful exact run beside it, compared in one figure
    assert saved["estimator"] == "truncated" and saved["paper_faithful"]["estimator"] == "exact"
    assert set(saved["paper_faithful"]["evaluation"]) == {"learned", "learned_best"}
    assert np.shape(saved["paper_faithful"]["curves"]["grad_log10_norm"]) == (1, 2)
    assert any("exact unroll" in r["quantity"] for r in study.report_rows(saved))
    assert (tmp_path / "metalearn_activation" / "metalearn_activation_estimators.png").exists()


def test_the_outer_loop_resumes_from_its_store(tmp_path):
    config = study.QUICK.replace(outer_steps=4, chunk=2, transfer=False)
    ctx = Context(store=Store(tmp_path))
    first = study.learn(config, ctx)["metrics"]
    again = study.learn(config, ctx)  # nothing left to run: the saved state is the final one
    assert int(np.asarray(again["state"].step)[0]) == 4
    np.testing.assert_array_equal(first["value"], again["metrics"]["value"])


def test_the_exact_and_truncated_runs_are_kept_apart_in_the_store(tmp_path):
    """Both estimators' outer loops resume from their own entries; a window change reruns the truncated one
    only."""
    config = study.QUICK.replace(transfer=False)
    ctx = Context(store=Store(tmp_path))
    truncated = study.learn(config, ctx)["metrics"]
    exact = study.learn(config, ctx, estimator="exact")["metrics"]
    assert not np.array_equal(truncated["grad_norm"], exact["grad_norm"])
    np.testing.assert_allclose(exact["value"][:, 0], truncated["value"][:, 0], rtol=1e-6)  # same forward run
    assert _learning_fields(config.replace(window=2), "exact") == _learning_fields(config, "exact")
    assert _learning_fields(config.replace(window=2), "truncated") != _learning_fields(config, "truncated")


def test_config_rules():
    with pytest.raises(ConfigError, match="objective_from"):
        study.ActivationStudyConfig(objective_from=400)
    with pytest.raises(ConfigError, match="clip"):
        study.ActivationStudyConfig(clip=-1.0)
    with pytest.raises(ConfigError, match="window"):
        study.ActivationStudyConfig(window=302)
    with pytest.raises(ConfigError, match="estimator"):
        study.ActivationStudyConfig(estimator="es")
