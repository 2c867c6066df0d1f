"""The double-descent study: a tiny run of every panel end to end, resume, and the peak finder."""

import numpy as np

from mnist1d_jax.core.sweeps import width_at_params
from mnist1d_jax.studies import double_descent as dd


def test_tiny_run_of_every_panel(run_quick):
    record, saved = run_quick("double_descent")
    assert saved["label_noise"] == {"selected": 639, "changed": 577, "n": 4000}  # the original's selection
    assert (saved["n_train"], saved["n_test"]) == (4000, 12000)
    assert set(saved["panels"]) == {"mlp_clean", "mlp_noisy", "cnn_noisy", "mlp_noisy_mse"}
    assert isinstance(saved["panels"]["cnn_noisy"]["test_error"][0][0], float)
    assert saved["label"].startswith("SUBSET")
    again, _ = run_quick("double_descent")  # every bucket comes back from the store
    np.testing.assert_equal(again["panels"]["cnn_noisy"]["test_error"], record["panels"]["cnn_noisy"]["test_error"])


def test_find_peak():
    panel = {"widths": [1, 2, 3, 4, 5], "params": [10, 20, 30, 40, 50],
             "test_error": [[50.0], [40.0], [55.0], [45.0], [42.0]],
             "train_error": [[40.0], [20.0], [5.0], [0.0], [0.0]]}
    peak = dd.find_peak(panel)
    assert peak["peak"]["width"] == 3 and peak["minimum_before_peak"]["width"] == 2
    assert peak["first_interpolating"]["width"] == 4 and peak["largest"]["test_error"] == 42.0


def test_full_protocol_label_and_points():
    assert dd.label_of(dd.DoubleDescentConfig()) == "full protocol"
    assert dd.total_points(dd.DoubleDescentConfig()) == 3 * (19 + 19 + 29 + 20)
    assert np.isclose(width_at_params("cnn", 6 * 18**2 + 58 * 18 + 10), 18)
