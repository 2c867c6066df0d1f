"""The class-wise error study: the deduplicated human quizzes, per-class rates, a tiny run end to end."""

import numpy as np
import pytest

from mnist1d_jax.studies import classwise_errors


def test_human_quiz_is_deduplicated():
    human = classwise_errors.human_answers()
    assert len(human["index"]) == 400 and len(set(human["index"].tolist())) == 400
    assert human["quiz_accuracy"] == [96.0, 96.0, 96.0, 97.0, 94.0]
    assert 100 * (human["guess"] == human["truth"]).mean() == pytest.approx(95.75)


def test_class_error_rates():
    truth = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    rates = classwise_errors.class_error_rates(predicted, truth)
    np.testing.assert_allclose(rates[:3], [50.0, 100 / 3, 0.0])
    assert np.isnan(rates[3:]).all()  # classes absent from `truth`


def test_tiny_run(run_quick, tmp_path):
    record, saved = run_quick("classwise_errors")
    assert saved["human"]["accuracy_distinct"] == pytest.approx(95.75)
    assert len(saved["cnn"]["accuracy_first_500"]) == 1 and np.shape(saved["cnn"]["class_error_first_500"]) == (1, 10)
    rows = classwise_errors.report_rows(saved)
    assert rows[0]["ours"].startswith("95.75") and "why" in rows[1]  # 50 steps: far from the paper, and said so
    assert (tmp_path / "classwise_errors" / "classwise_errors.png").exists()
