"""Epoch-wise double descent: a tiny run end to end, the peak rule on constructed curves, the config."""

import numpy as np
import pytest

from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import epochwise_double_descent as study


def test_tiny_run(run_quick):
    record, saved = run_quick("epochwise_double_descent")
    assert saved["epochs"] == [1, 2]
    assert np.shape(saved["epochwise"]["test_error"]) == (2, 1, 2)  # (widths, seeds, epochs)
    assert np.shape(saved["noise_sweep"]["train_error"]) == (2, 1, 2)  # (rates, seeds, epochs)
    assert saved["noise_sweep"]["label_noise"]["0.0"]["changed"] == 0
    assert saved["noise_sweep"]["label_noise"]["0.3"]["changed"] > 800  # ~27 % of 4,000 labels changed
    # the rates differ only in their labels: on clean and on 30 %-noisy labels the training errors differ
    tr = np.asarray(saved["noise_sweep"]["train_error"])
    assert not np.allclose(tr[0], tr[1])
    assert any("noise sweep" in r["quantity"] for r in study.report_rows(saved))


def test_epoch_peak_finds_a_constructed_double_descent():
    epochs = [1, 2, 4, 8, 16, 32, 64]
    curve = np.array([80, 50, 40, 48, 45, 38, 36.0])
    seeds = np.stack([curve - 0.3, curve, curve + 0.3])
    pk = study.epoch_peak(epochs, seeds, np.zeros_like(seeds))
    assert (pk["dip_epoch"], pk["peak_epoch"]) == (4, 8)
    assert pk["rise"] == pytest.approx(8.0) and pk["second_descent"] == pytest.approx(12.0)
    assert pk["double_descent"]
    monotone = study.epoch_peak(epochs, np.stack([80 - np.arange(7.0)] * 2), np.zeros((2, 7)))
    assert monotone["rise"] == 0 and not monotone["double_descent"]
    overfit = study.epoch_peak(epochs, np.array([[80, 50, 40, 42, 45, 48, 50.0]] * 2), np.zeros((2, 7)))
    assert overfit["peak_epoch"] == 64 and not overfit["double_descent"]  # rises, never falls again


def test_eval_epochs_are_log_spaced_and_distinct():
    epochs = study.EpochwiseConfig(epochs=500, eval_points=30).eval_epochs()
    assert epochs[0] == 1 and epochs[-1] == 500 and len(set(epochs)) == len(epochs) >= 25
    assert study.EpochwiseConfig(epochs=3, eval_points=10).eval_epochs() == (1, 2, 3)
    with pytest.raises(ConfigError, match="noise_rates"):
        study.EpochwiseConfig(noise_rates=(0.3, 0.1))
