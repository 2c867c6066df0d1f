"""Training-set augmentation: circular shifts, scaling and noise, each off at 0, comparable as a static field."""

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core.augment import Augment


def test_shift_scale_noise_and_equality():
    x = jnp.arange(12.0).reshape(2, 6)
    out = np.asarray(Augment(shift=2)(jax.random.key(0), x))
    for row, orig in zip(out, np.asarray(x), strict=True):  # every row is a circular shift by -2..2
        assert any(np.array_equal(row, np.roll(orig, k)) for k in range(-2, 3))
    scaled = Augment(scale=0.1)(jax.random.key(1), x + 1.0)
    ratio = np.asarray(scaled / (x + 1.0))
    assert np.allclose(ratio, ratio[:, :1]) and np.all(np.abs(ratio - 1) <= 0.1 + 1e-6)
    noisy = np.asarray(Augment(noise=0.5)(jax.random.key(2), x))
    assert 0.2 < np.std(noisy - np.asarray(x)) < 1.0
    assert Augment(3, 0.1) == Augment(3, 0.1) and not Augment() and Augment(noise=0.1)
