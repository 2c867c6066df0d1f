"""A clean validation set out of a noisy training set: disjoint, true labels, deterministic."""

import numpy as np
import pytest

from mnist1d_jax.data.clean_split import clean_validation_split


def labels(n=500, seed=0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 10, n)
    flip = rng.random(n) < 0.3
    y_noisy = np.where(flip, (y_true + rng.integers(1, 10, n)) % 10, y_true)  # a flipped label is always wrong
    return y_noisy, y_true


def test_the_clean_rows_have_their_true_labels_and_leave_the_training_set():
    y_noisy, y_true = labels()
    s = clean_validation_split(y_noisy, y_true, 40, seed=3)
    assert s.val.shape == (40,) and s.train.shape == (460,)
    assert not set(s.val) & set(s.train) and sorted([*s.val, *s.train]) == list(range(500))
    assert np.all(np.diff(s.val) > 0) and np.all(np.diff(s.train) > 0)
    np.testing.assert_array_equal(s.y_val, y_true[s.val])
    np.testing.assert_array_equal(s.y_train, y_noisy[s.train])
    np.testing.assert_array_equal(s.noisy, y_noisy[s.train] != y_true[s.train])
    assert s.y_val.dtype == np.int32 and s.noisy.dtype == bool and 0.2 < s.noisy.mean() < 0.4


def test_the_same_seed_gives_the_same_rows():
    y_noisy, y_true = labels()
    a, b = (clean_validation_split(y_noisy, y_true, 40, seed=3) for _ in range(2))
    np.testing.assert_array_equal(a.val, b.val)
    assert not np.array_equal(a.val, clean_validation_split(y_noisy, y_true, 40, seed=4).val)


def test_bad_arguments_are_one_line_errors():
    y_noisy, y_true = labels(20)
    with pytest.raises(ValueError, match="n_val=20 must be an integer in"):
        clean_validation_split(y_noisy, y_true, 20)
    with pytest.raises(ValueError, match="same rows"):
        clean_validation_split(y_noisy, y_true[:10], 5)
