"""The learned-activation study: a tiny run end to end (baselines, transfer), resuming from its saved outer loop."""

import numpy as np
import pytest

from mnist1d_jax.report.runner import Context
from mnist1d_jax.report.store import Store
from mnist1d_jax.studies import metalearn_activation as study
from mnist1d_jax.validation import ConfigError


def test_tiny_run(run_quick):
    record, saved = run_quick("metalearn_activation")
    assert saved["completed_outer_steps"] == 2 and saved["stopped_early"] is None
    assert set(saved["evaluation"]) >= {"learned", "learned_best", "relu", "pwl_own"}
    assert set(saved["transfer"]["table"]) == {"mlp", "cnn"}
    assert np.shape(saved["curves"]["test_acc"]) == (1, 2)
    assert any(r["quantity"].startswith("test accuracy, learned activation") for r in study.report_rows(saved))


def test_the_outer_loop_resumes_from_its_store(tmp_path):
    config = study.QUICK.replace(outer_steps=4, chunk=2, transfer=False)
    ctx = Context(store=Store(tmp_path))
    _, first, _ = study.learn(config, ctx)
    state, again, _ = study.learn(config, ctx)  # nothing left to run: the saved state is the final one
    assert int(np.asarray(state.step)[0]) == 4
    np.testing.assert_array_equal(first["value"], again["value"])


def test_config_rules():
    with pytest.raises(ConfigError, match="objective_from"):
        study.ActivationStudyConfig(objective_from=400)
    with pytest.raises(ConfigError, match="clip"):
        study.ActivationStudyConfig(clip=-1.0)
