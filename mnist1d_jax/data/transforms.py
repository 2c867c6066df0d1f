"""The per-example MNIST-1D transforms, each applied to a whole block of rows at once.

Every function reproduces, in float64 and in the same operation order, the scalar routine the original
generator calls per example (``np.interp`` for resampling, SciPy's reflect-mode Gaussian filter, a slice-and-
concatenate shift), so the block results equal the per-example results bit for bit. Only NumPy is used.
"""

from __future__ import annotations

import functools

import numpy as np

EPS = 1e-8  # added to every template point so that template zeros still count as signal in the mask


def linear_resample_plan(old_length: int, new_length: int):
    """Precompute ``np.interp(linspace(0, 1, new), linspace(0, 1, old), y)`` for any rows ``y``.

    Returns (j, hit, x_new, x_j, slope_den): the left neighbour index of every new point, whether the new
    point falls exactly on an old one (then ``np.interp`` returns ``y[j]`` itself), and the grid values that
    enter NumPy's formula ``(y[j+1] - y[j]) / (x[j+1] - x[j]) * (x_new - x[j]) + y[j]``.
    """
    x_old = np.linspace(0, 1, old_length)
    x_new = np.linspace(0, 1, new_length)
    # NumPy's binary search finds j with x_old[j] <= x < x_old[j + 1]; the last point is a hit on the end.
    j = np.searchsorted(x_old, x_new, side="right") - 1
    j = np.minimum(j, old_length - 1)
    hit = x_old[j] == x_new
    j_next = np.minimum(j + 1, old_length - 1)
    return j, hit, x_new, x_old[j], x_old[j_next] - x_old[j]


def linear_resample(y: np.ndarray, new_length: int, plan=None) -> np.ndarray:
    """Resample rows ``y`` (n, old) onto ``new_length`` evenly spaced points, exactly as ``np.interp`` does."""
    old_length = y.shape[-1]
    j, hit, x_new, x_j, dx = plan if plan is not None else linear_resample_plan(old_length, new_length)
    j_next = np.minimum(j + 1, old_length - 1)
    y_j = y[..., j]
    with np.errstate(invalid="ignore", divide="ignore"):  # dx == 0 only where hit, whose value is y_j
        slope = (y[..., j_next] - y_j) / np.where(hit, 1.0, dx)
    return np.where(hit, y_j, slope * (x_new - x_j) + y_j)


def gaussian_kernel(sigma: float = 2.0, truncate: float = 4.0) -> np.ndarray:
    """SciPy's normalised Gaussian kernel, radius ``int(truncate * sigma + 0.5)`` (17 taps for sigma 2)."""
    radius = int(truncate * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    return phi / phi.sum()


def _reflect_index(i: np.ndarray, length: int) -> np.ndarray:
    """Half-sample symmetric extension (``d c b a | a b c d | d c b a``), periodic with period 2 * length."""
    m = np.mod(i, 2 * length)
    return np.where(m >= length, 2 * length - 1 - m, m)


@functools.lru_cache(maxsize=16)
def gaussian_smoothing_matrix(length: int, sigma: float = 2.0) -> np.ndarray:
    """(L, L) matrix G with ``rows @ G`` = SciPy's ``gaussian_filter1d(row, sigma)`` in mode 'reflect'.

    Cached (read-only) because every dataset of the same working length uses the same matrix.

    A matrix product sums the taps in another order than SciPy's loop, which changes results in the last
    bit only (<= 1e-16 here); `gaussian_smooth` is the loop-order version the tests compare against.
    """
    w = gaussian_kernel(sigma)
    radius = len(w) // 2
    out = np.arange(length)
    rows = _reflect_index(out[:, None] + np.arange(-radius, radius + 1), length)
    matrix = np.zeros((length, length))
    # np.add.at adds in index order (output column, then tap), so repeated reflected taps sum in loop order.
    np.add.at(matrix, (rows, np.broadcast_to(out[:, None], rows.shape)), np.broadcast_to(w, rows.shape))
    matrix.flags.writeable = False  # cached and shared: see the decorator
    return matrix


# Rows per matrix product in `smooth_rows`: 48 x 72 x 72 stays under OpenBLAS's threshold for threading, so
# each product runs on the calling thread. The generator already runs blocks on two threads; BLAS threads on
# top of them oversubscribe the cores and spin, which made the smoothing 10x slower under load.
_ROWS_PER_PRODUCT = 48


def smooth_rows(noise: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``noise @ matrix`` for (n, L) rows, in single-threaded chunks (see `_ROWS_PER_PRODUCT`)."""
    out = np.empty_like(noise)
    for i in range(0, len(noise), _ROWS_PER_PRODUCT):
        np.matmul(noise[i : i + _ROWS_PER_PRODUCT], matrix, out=out[i : i + _ROWS_PER_PRODUCT])
    return out


def gaussian_smooth(noise: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """SciPy's ``gaussian_filter1d(row, sigma)`` (mode 'reflect') on every row of ``noise`` (n, L).

    Summed in SciPy's order for symmetric kernels: ``c[0] * w0``, then ``+= (left_k + right_k) * w_k`` for
    k = radius, ..., 1.
    """
    w = gaussian_kernel(sigma)
    radius = len(w) // 2
    length = noise.shape[-1]
    padded = noise[..., _reflect_index(np.arange(-radius, length + radius), length)]
    out = noise * w[radius]
    for k in range(radius, 0, -1):
        left = padded[..., radius - k : radius - k + length]
        right = padded[..., radius + k : radius + k + length]
        out += (left + right) * w[radius - k]
    return out


def translate(x: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Circular right shift of each row of ``x`` (n, L) by ``shift`` (n,), all shifts in [0, L)."""
    length = x.shape[-1]
    idx = np.mod(np.arange(length)[None, :] - shift[:, None], length)
    return np.take_along_axis(x, idx, axis=-1)
