"""A small trusted validation set taken out of a training set with noisy labels.

`clean_validation_split(y_noisy, y_true, n_val, seed) -> CleanSplit`: ``n_val`` training rows drawn without
replacement by ``np.random.default_rng(seed)`` (deterministic, as `splits.prepare_data` draws its validation
rows) keep their *true* labels and leave the training set; the other rows keep their noisy labels, in their
order. Methods that learn from a little clean data (example reweighting, label correction) train on
``train`` and take their meta-objective on ``val``; ``noisy`` says which training labels are wrong, for an
oracle and for scoring how well a method finds them. Host-side NumPy, no device arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class CleanSplit(NamedTuple):
    """Row indices into the original training set and labels (all NumPy).

    ``val (n_val,)`` and ``train (N - n_val,)``: increasing, disjoint, together every row; ``y_val (n_val,)``
    the true labels of ``val``; ``y_train (N - n_val,)`` the noisy labels of ``train``; ``noisy (N - n_val,)``
    bool, where ``y_train`` differs from the true label.
    """

    val: np.ndarray
    train: np.ndarray
    y_val: np.ndarray
    y_train: np.ndarray
    noisy: np.ndarray


def clean_validation_split(y_noisy, y_true, n_val: int = 200, seed: int = 0) -> CleanSplit:
    """Take ``n_val`` rows (drawn by ``default_rng(seed)``) out of a noisy training set, with their true labels.

    Args:
      y_noisy: ``(N,)`` int training labels as training sees them (e.g. `splits.label_noise`'s).
      y_true: ``(N,)`` int true labels of the same rows.
      n_val: rows of the clean validation set, ``1 <= n_val < N``.
      seed: which rows (the same seed, the same rows).
    """
    y_noisy, y_true = np.asarray(y_noisy), np.asarray(y_true)
    if y_noisy.ndim != 1 or y_noisy.shape != y_true.shape:
        raise ValueError(f"y_noisy and y_true must be (N,) labels of the same rows, got shapes {y_noisy.shape} "
                         f"and {y_true.shape}")
    n = len(y_true)
    if isinstance(n_val, bool) or not isinstance(n_val, (int, np.integer)) or not 1 <= n_val < n:
        raise ValueError(f"n_val={n_val!r} must be an integer in [1, {n - 1}] (rows of the {n}-row training set)")
    taken = np.zeros(n, bool)
    taken[np.random.default_rng(seed).choice(n, int(n_val), replace=False)] = True
    val, train = np.flatnonzero(taken), np.flatnonzero(~taken)
    return CleanSplit(val, train, y_true[val].astype(np.int32), y_noisy[train].astype(np.int32),
                      y_noisy[train] != y_true[train])


__all__ = ["CleanSplit", "clean_validation_split"]
