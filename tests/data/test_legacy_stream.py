"""The bulk reader makes exactly the draws of the original per-example loop and leaves the stream where it does."""

import numpy as np
import pytest

from mnist1d_jax.data import legacy_stream


def per_example_loop(rs, n, length, max_translation):
    """The original generator's calls, one example at a time."""
    out = []
    for _ in range(n):
        out.append(
            (rs.rand(), rs.rand(), rs.choice(max_translation), rs.randn(length), rs.randn(length), rs.rand())
        )
    return out


def assert_same_draws(draws, expected):
    np.testing.assert_array_equal(draws.pad_u, [e[0] for e in expected])
    np.testing.assert_array_equal(draws.scale_u, [e[1] for e in expected])
    np.testing.assert_array_equal(draws.shift, [e[2] for e in expected])
    np.testing.assert_array_equal(draws.shear_u, [e[5] for e in expected])
    normals = np.array([[e[3], e[4]] for e in expected])
    # NumPy's SIMD log may differ from libm's in the last bit: normals agree to an ulp.
    np.testing.assert_allclose(draws.normals, normals, rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize(
    "n, length, max_translation, seed",
    [(1500, 72, 48, 42), (300, 71, 1, 0), (400, 9, 9, 7), (200, 2, 2, 123), (250, 40, 33, 2**32 - 1)],
)
def test_draws_equal_the_original_loop(n, length, max_translation, seed):
    rs = np.random.RandomState(seed)
    draws = legacy_stream.draw_examples(rs, n, length, max_translation)
    reference = np.random.RandomState(seed)
    expected = per_example_loop(reference, n, length, max_translation)
    assert_same_draws(draws, expected)
    # The stream is left exactly where the loop leaves it.
    np.testing.assert_array_equal(rs.rand(7), reference.rand(7))


def test_tiny_windows_and_overlaps_take_the_merge_path(monkeypatch):
    monkeypatch.setattr(legacy_stream, "_EXAMPLES_PER_BLOCK", 1)
    monkeypatch.setattr(legacy_stream, "_MIN_OVERLAP", 4)
    monkeypatch.setattr(legacy_stream, "_OVERLAP_EXAMPLES", 0)
    merges = []
    original_walk = legacy_stream._walk

    def counting_walk(block, start, stop, todo, length, rng):
        result = original_walk(block, start, stop, todo, length, rng)
        merges.append(result[-1] < stop and len(result[0]) < todo)
        return result

    monkeypatch.setattr(legacy_stream, "_walk", counting_walk)
    rs = np.random.RandomState(5)
    draws = legacy_stream.draw_examples(rs, 60, 72, 48)
    reference = np.random.RandomState(5)
    assert_same_draws(draws, per_example_loop(reference, 60, 72, 48))
    assert sum(merges) > 10  # the windows really were too small
    np.testing.assert_array_equal(rs.rand(3), reference.rand(3))


def test_a_cached_normal_is_refused():
    rs = np.random.RandomState(0)
    rs.randn()
    with pytest.raises(ValueError, match="cached normal"):
        legacy_stream.draw_examples(rs, 3, 72, 48)


def _exact_acceptance(words):
    x1 = 2.0 * legacy_stream._doubles_at(words, np.arange(len(words) - 3)) - 1.0
    x2 = 2.0 * legacy_stream._doubles_at(words, np.arange(2, len(words) - 1)) - 1.0
    r2 = x1 * x1 + x2 * x2
    return (r2 < 1.0) & (r2 != 0.0)


def test_float32_acceptance_equals_the_exact_test_near_the_circle():
    """The float32 first pass plus its exact recheck decide every attempt as float64 does, including attempts
    built to sit within a few ulps of r2 = 1 and at r2 = 0 exactly."""
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2**32, size=200_000, dtype=np.uint32)
    # Plant attempts on the unit circle: x1 = cos, x2 = sin, rounded to the legacy 53-bit grid, then nudged.
    angles = rng.uniform(0, 2 * np.pi, 2000)
    for i, a in enumerate(angles):
        pos = 8 * i
        for offset, value in ((0, np.cos(a)), (2, np.sin(a))):
            n = int(round((value + 1.0) / 2.0 * 2.0**53)) + int(rng.integers(-3, 4))
            n = min(max(n, 0), 2**53 - 1)
            words[pos + offset] = (n >> 26) << 5
            words[pos + offset + 1] = (n & (2**26 - 1)) << 6
    words[-8:-4] = [2**31, 0, 2**31, 0]  # x1 = x2 = 0: r2 == 0 is rejected
    np.testing.assert_array_equal(legacy_stream._accepted_attempts(words), _exact_acceptance(words))
