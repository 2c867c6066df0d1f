"""The block transforms equal the per-example routines the original generator calls."""

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from mnist1d_jax.data import transforms


@pytest.mark.parametrize("old, new", [(72, 40), (48, 72), (2, 9), (13, 13), (100, 7)])
def test_linear_resample_equals_np_interp_bitwise(old, new):
    rows = np.random.default_rng(0).normal(size=(6, old))
    expected = np.stack([np.interp(np.linspace(0, 1, new), np.linspace(0, 1, old), r) for r in rows])
    np.testing.assert_array_equal(transforms.linear_resample(rows, new), expected)


@pytest.mark.parametrize("length", [2, 3, 8, 9, 17, 40, 72])
def test_gaussian_smooth_equals_scipy_bitwise_and_matrix_within_1e15(length):
    rows = np.random.default_rng(1).normal(size=(5, length))
    expected = np.stack([gaussian_filter(r, 2) for r in rows])
    np.testing.assert_array_equal(transforms.gaussian_smooth(rows), expected)
    matrix = transforms.gaussian_smoothing_matrix(length)
    np.testing.assert_allclose(transforms.smooth_rows(rows, matrix), expected, rtol=0, atol=1e-15)


def test_translate_is_the_slice_and_concatenate_shift():
    rows = np.random.default_rng(2).normal(size=(4, 11))
    shifts = np.array([0, 1, 5, 10])
    out = transforms.translate(rows, shifts)
    for r, k, o in zip(rows, shifts, out, strict=True):
        np.testing.assert_array_equal(o, np.concatenate([r[-k:], r[:-k]]) if k else r)
