"""Small training sets chosen from a big one: random examples per class, and k-means centres per class.

The baselines of dataset distillation (``studies.distill``): a distilled set of k examples per class is compared
with k real examples per class drawn at random and with the k k-means centres of each class (a strong coreset:
the centres summarise the class's spread, though they are not real examples).
"""

from __future__ import annotations

import numpy as np


def _check(y: np.ndarray, per_class: int, num_classes: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, not of shape {y.shape}")
    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"per_class={per_class!r} must be an integer >= 1")
    counts = np.bincount(y, minlength=num_classes)[:num_classes]
    if counts.min() < per_class:
        raise ValueError(f"class {int(np.argmin(counts))} has {int(counts.min())} examples, fewer than "
                         f"per_class={per_class}")
    return y


def class_labels(per_class: int, num_classes: int = 10) -> np.ndarray:
    """``[C·k]`` int32 labels of a per-class set, class by class: ``0, ..., 0, 1, ..., 1, ...``."""
    return np.repeat(np.arange(num_classes, dtype=np.int32), per_class)


def random_per_class(y, per_class: int, draws: int, seed: int, num_classes: int = 10) -> np.ndarray:
    """``[draws, C·k]`` row indices: for each draw, k distinct examples of every class (in `class_labels`
    order), from ``np.random.default_rng(seed)``."""
    y = _check(y, per_class, num_classes)
    rng = np.random.default_rng(seed)
    rows = [np.flatnonzero(y == c) for c in range(num_classes)]
    return np.stack([np.concatenate([rng.choice(r, per_class, replace=False) for r in rows])
                     for _ in range(draws)]).astype(np.int64)


def kmeans_per_class(x, y, per_class: int, seed: int = 0, num_classes: int = 10) -> np.ndarray:
    """``[C·k, D]`` float32: the k k-means centres of every class's examples (scikit-learn's k-means++ with 10
    restarts, ``random_state=seed``), in `class_labels` order."""
    from sklearn.cluster import KMeans  # (scikit-learn is imported only here: seconds of start-up otherwise)

    x = np.asarray(x, np.float64)
    y = _check(y, per_class, num_classes)
    centres = [KMeans(per_class, n_init=10, random_state=seed).fit(x[y == c]).cluster_centers_
               for c in range(num_classes)]
    return np.concatenate(centres).astype(np.float32)


__all__ = ["class_labels", "kmeans_per_class", "random_per_class"]
