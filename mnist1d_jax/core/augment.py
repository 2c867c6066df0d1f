"""Training-set augmentation as a static, comparable function of (key, batch).

Used by the improved baselines only (the reproductions never augment); evaluation data are never augmented.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class Augment:
    """``augment(key, x (B, D)) -> (B, D)``: every row circularly shifted by a uniform integer in
    ``[-shift, shift]``, scaled by ``1 + U(-scale, scale)`` and given ``N(0, noise^2)`` noise (each part off at
    0). A frozen dataclass, so two equal augmentations are the same static part of a ``TrainState``."""

    shift: int = 0
    scale: float = 0.0
    noise: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.shift or self.scale or self.noise)

    def __call__(self, key: Array, x: Array) -> Array:
        k_shift, k_scale, k_noise = jax.random.split(key, 3)
        b, d = x.shape
        if self.shift:
            shift = jax.random.randint(k_shift, (b, 1), -self.shift, self.shift + 1)
            x = jnp.take_along_axis(x, (jnp.arange(d)[None, :] - shift) % d, axis=1)  # roll row i by shift[i]
        if self.scale:
            x = x * (1.0 + jax.random.uniform(k_scale, (b, 1), x.dtype, -self.scale, self.scale))
        if self.noise:
            x = x + self.noise * jax.random.normal(k_noise, x.shape, x.dtype)
        return x


__all__ = ["Augment"]
