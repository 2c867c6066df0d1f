"""What the reweighting study reads its tables with: the width of the double-descent peak, and the share of
wrong labels among the examples a ranking puts lowest."""

from __future__ import annotations

import numpy as np


def peak_index(test_error) -> int:
    """Index of the width where the mean (over seeds) of ``test_error (W, S)`` rises most above its running
    minimum over the smaller widths: the double-descent peak."""
    err = np.mean(np.asarray(test_error, float), axis=1)
    return int(np.argmax(err - np.minimum.accumulate(err)))


def noisy_share(weights, noisy, lowest: float) -> np.ndarray:
    """``(W, S)`` share of wrong labels among the ``round(lowest * N)`` lowest-weighted of ``weights (W, S, N)``
    (ties broken by row order); ``noisy (N,)`` bool."""
    weights, noisy = np.asarray(weights), np.asarray(noisy, bool)
    k = max(1, int(round(lowest * weights.shape[-1])))
    rows = np.argsort(weights, axis=-1, kind="stable")[..., :k]
    return noisy[rows].mean(-1)
