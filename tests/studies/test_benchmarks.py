"""The benchmark study: a tiny run end to end (cells, selections, improved baselines, figure and table), resume,
and the report's notes on numbers outside the paper's band."""

import pytest

from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import benchmarks


def test_tiny_run(run_quick, tmp_path):
    record, saved = run_quick("benchmarks", models=("logistic",), improved=("mlp",))
    assert set(saved["cells"]) == {"logistic/default", "logistic/shuffled"}
    cell = saved["cells"]["logistic/default"]
    assert len(cell["step"]) == 3  # T = 20, E = 10: steps 0, 10, 20
    assert len(cell["harness"]["best_test_acc"]) == 2  # two seeds
    for key in ("harness_val", "modern"):
        assert len(cell[key]["selected_test_acc"]) == 2
    assert saved["improved"]["mlp"]["config"]["model"] == "mlp"
    out = tmp_path / "benchmarks"
    assert (out / "benchmarks.png").stat().st_size > 10_000
    table = (out / "benchmarks.md").read_text()
    assert "| logistic | shuffled | 32 ± 1 |" in table and "73.3 ± 1.4" in table


def test_a_number_outside_the_papers_band_gets_its_explanation():
    def cell(best):
        return {"harness": {"best_test_acc": best, "final_test_acc": best}}

    record = {"config": {"seeds": 2}, "cells": {"mlp/default": cell([65.0, 65.4]), "cnn/default": cell([94.0, 93.0]),
                                                "logistic/default": cell([28.0, 28.2])}}
    rows = {r["quantity"].split(",")[0]: r for r in benchmarks.report_rows(record)}
    assert "inside the acceptance band 64–69" in rows["mlp"]["why"]
    assert "why" not in rows["cnn"]  # 93.5 is within the paper's 94 ± 2
    assert "outside the acceptance band 31–33" in rows["logistic"]["why"]


def test_config_rules():
    with pytest.raises(ConfigError, match="BenchmarksConfig.models"):
        benchmarks.BenchmarksConfig(models=("resnet",))
    with pytest.raises(ConfigError, match="eval_every"):
        benchmarks.BenchmarksConfig(total_steps=10, eval_every=20)
