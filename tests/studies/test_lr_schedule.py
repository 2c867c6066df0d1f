"""The learned learning-rate schedule: a tiny run end to end, the schedule's interpolation and the baselines."""

import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import lr_schedule as study


def test_tiny_run(run_quick):
    record, saved = run_quick("lr_schedule")
    assert np.shape(saved["learned_log_lr"]) == (1, 3) and np.shape(saved["objective"]) == (1, 2)
    assert saved["best_constant"] == "constant 0.01" and saved["best_cosine"] == "cosine 0.01"
    assert all(np.shape(v["test_acc"]) == (2,) for v in saved["evaluation"].values())
    assert "test" not in saved["best_constant"]
    assert any("learned schedule" in r["quantity"] for r in study.report_rows(saved))


def test_schedule_interpolates_log_rates_between_knots():
    config = study.ScheduleStudyConfig(inner_steps=11, knots=3, window=1, objective_steps=2)
    rates = np.asarray(study.schedule_rates(jnp.log(jnp.array([1e-2, 1e-3, 1e-1])), config))
    np.testing.assert_allclose(rates[[0, 5, 10]], [1e-2, 1e-3, 1e-1], rtol=1e-5)
    np.testing.assert_allclose(rates[2], np.exp(np.log(1e-2) + 0.4 * np.log(0.1)), rtol=1e-5)  # geometric
    base = study.baseline_rates(config.replace(grid=(0.02,)))
    assert float(base["cosine 0.02"][0]) == pytest.approx(0.02) and float(base["cosine 0.02"][-1]) < 0.002


def test_the_objective_is_the_soft_validation_error_of_the_last_steps():
    """The meta-objective weights the soft validation errors of the last ``objective_steps`` steps."""
    config = study.QUICK
    problem = study.make_problem(config, study.load_data(config))
    w = np.asarray(problem.weights)
    assert w[: config.inner_steps - config.objective_steps].sum() == 0 and w.sum() == pytest.approx(1.0)


def test_config_rules():
    with pytest.raises(ConfigError, match="window"):
        study.ScheduleStudyConfig(window=300)
    with pytest.raises(ConfigError, match="objective_steps"):
        study.ScheduleStudyConfig(objective_steps=2000)


def test_an_interrupted_meta_training_resumes_at_its_last_chunk(tmp_path):
    """Ctrl-C after the first chunk: the rerun starts at outer step 1 and ends where an uninterrupted run ends."""
    from mnist1d_jax.report.runner import Context
    from mnist1d_jax.runtime.store import Store

    class StopAfterFirstChunk(Context):
        def bar(self, total, desc, unit="it"):
            bar = super().bar(total, desc, unit)
            update, calls = bar.update, []

            def interrupting(n=1):
                update(n)
                calls.append(n)
                if len(calls) == 1:  # the first chunk's (a fresh run has no resume offset to show)
                    raise KeyboardInterrupt

            bar.update = interrupting
            return bar

    config = study.QUICK
    with pytest.raises(KeyboardInterrupt):
        study.run(config, StopAfterFirstChunk(store=Store(tmp_path / "a")))
    tag = {k: v for k, v in config.to_dict().items() if k not in ("eval_seeds", "grid")}
    partial = Store(tmp_path / "a").get("meta_training_partial", tag)
    assert int(np.asarray(partial["state"][0]).ravel()[0]) == 1  # OuterState.step: one chunk was kept
    assert partial["format"] == "run_outer/1" and np.shape(partial["metrics"]["value"]) == (1, 1)
    resumed = study.run(config, Context(store=Store(tmp_path / "a")))
    whole = study.run(config, Context(store=Store(tmp_path / "b")))
    np.testing.assert_allclose(resumed["learned_log_lr"], whole["learned_log_lr"], rtol=1e-6)
    assert np.shape(resumed["objective"]) == np.shape(whole["objective"]) == (1, 2)
