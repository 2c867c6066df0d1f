"""Optimiser x architecture benchmark: a tiny run end to end, the selection on validation only."""

import numpy as np
import pytest

from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import optimizer_benchmark as study


def test_tiny_run(run_quick):
    record, saved = run_quick("optimizer_benchmark")
    assert set(saved["cells"]) == {"logistic_lion", "tcn_lion"}
    cell = saved["cells"]["tcn_lion"]
    assert np.shape(cell["best_val_acc"]) == (2, 1) and cell["rates"] == [1e-4, 1e-3]
    assert cell["chosen_rate"] in cell["rates"] and saved["params"]["tcn"] == 5_754
    models, opts, means, _ = study.table(saved)
    assert means.shape == (2, 1) and np.all((means >= 0) & (means <= 100))
    assert any("tcn" in r["quantity"] for r in study.report_rows(saved))


def test_the_rate_is_chosen_on_validation_never_on_test():
    cell = {"best_val_acc": np.array([[50.0, 52], [60, 58], [55, 57]]),
            "selected_test_acc": np.array([[90.0, 91], [40, 41], [99, 99]])}
    chosen = study.choose(cell, [1e-3, 1e-2, 1e-1])
    assert chosen["chosen_rate"] == 1e-2 and chosen["chosen_test_acc"] == [40, 41]  # the best test rate loses
    assert not chosen["chosen_at_grid_edge"]
    rising = np.array([[50.0, 52], [55, 57], [60, 58]])
    assert study.choose({**cell, "best_val_acc": rising}, [1, 2, 3])["chosen_at_grid_edge"]


def test_config_rules():
    with pytest.raises(ConfigError, match="optimizers"):
        study.BenchmarkConfig(optimizers=("rmsprop",))
    with pytest.raises(ConfigError, match="sgd_rates"):
        study.BenchmarkConfig(sgd_rates=(0.1, 0.01))
    assert study.BenchmarkConfig().rates("adamw") == study.BenchmarkConfig().adam_rates
