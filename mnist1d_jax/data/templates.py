"""The ten hand-drawn 1-D digit templates of MNIST-1D (the original's raw values, 12 points each).

Every dataset example is one of these twelve-point curves, padded, stretched, shifted, scaled, sheared and
made noisy by :mod:`mnist1d_jax.data.generator`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUM_CLASSES = 10
TEMPLATE_POINTS = 12

# Raw hand-picked values, one row per digit 0..9. Every row starts and ends at 5, so after normalisation
# every template starts (and ends) at exactly 0.
RAW_TEMPLATES = np.array(
    [
        [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
        [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
        [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
        [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
        [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
        [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
        [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
        [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
        [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
        [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
    ],
    dtype=np.float64,
)


@dataclass(frozen=True)
class Templates:
    """The normalised templates.

    Attributes:
      x: (10, 12) float64 curves, each with zero start and end.
      t: (12,) float64 time axis, ``linspace(-5, 5, 12) / 6``.
      y: (10,) int64 labels 0..9.
    """

    x: np.ndarray
    t: np.ndarray
    y: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        """The original package's ``templates`` dict: keys ``x``, ``t``, ``y``."""
        return {"x": self.x, "t": self.t, "y": self.y}


def get_templates() -> Templates:
    """Normalise the raw templates exactly as the reference does (same float64 operation order).

    Per row: subtract the mean, divide by the population std, subtract the first value, divide by 6.
    """
    x = RAW_TEMPLATES.copy()
    x -= x.mean(axis=1, keepdims=True)
    x /= x.std(axis=1, keepdims=True)
    x -= x[:, :1]
    return Templates(
        x=x / 6.0,
        t=np.linspace(-5, 5, TEMPLATE_POINTS) / 6.0,
        y=np.arange(NUM_CLASSES, dtype=np.int64),
    )
