"""Input checks shared by the representation metrics (`collapse`, `class_stats`, `cka`).

Shapes and dtypes are always checked; label values only when they are concrete: under ``jax.jit`` the labels are
not known when the program is traced, so a label out of ``[0, K)`` or fewer than 2 classes present cannot be
caught there and give NaN or meaningless numbers. Every check raises a one-line ``ValueError``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array

# Every matrix product of the metrics runs at full float32 on every backend: these are measurements.
HIGHEST = jax.lax.Precision.HIGHEST


def is_traced(x) -> bool:
    """Whether `x` is an abstract value inside a ``jax.jit`` / ``jax.vmap`` trace (its values unknown)."""
    return isinstance(x, jax.core.Tracer)


def check_k(K) -> int:
    """The number of classes ``K``: a Python int >= 2 (it sets shapes, so it is static under jit)."""
    if isinstance(K, bool) or not isinstance(K, (int, np.integer)):
        raise ValueError(f"K must be a Python int (static under jit), got {type(K).__name__}")
    if K < 2:
        raise ValueError(f"K must be at least 2, got {K}")
    return int(K)


def check_features(h, name: str = "h") -> Array:
    """`h` as a non-empty floating ``(N, D)`` array; `name` is the argument the message names."""
    h = jnp.asarray(h)
    if h.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D), got shape {h.shape}")
    if not jnp.issubdtype(h.dtype, jnp.floating):
        raise ValueError(f"{name} must be floating, got dtype {h.dtype}")
    if h.shape[0] < 1 or h.shape[1] < 1:
        raise ValueError(f"{name} must be non-empty, got shape {h.shape}")
    return h


def check_hy(h, y, K) -> tuple[Array, Array, int]:
    """Features ``h (N, D)``, integer labels ``y (N,)`` in ``[0, K)`` with at least 2 classes present, and ``K``."""
    K = check_k(K)
    h = check_features(h)
    y = jnp.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must have shape (N,), got shape {y.shape}")
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    if y.shape[0] != h.shape[0]:
        raise ValueError(f"h and y disagree on N: {h.shape[0]} features, {y.shape[0]} labels")
    if not is_traced(y):
        labels = np.asarray(y)
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= K:
            raise ValueError(f"labels must lie in [0, {K}), got range [{lo}, {hi}]")
        present = int(np.count_nonzero(np.bincount(labels, minlength=K)))
        if present < 2:
            raise ValueError(f"need at least 2 classes present in y, got {present}")
    return h, y, K


def check_variant(variant, allowed: tuple[str, ...], metric: str) -> tuple[str, ...]:
    """The variants of `metric` that `variant` names: ``(variant,)``, or all of `allowed` for ``"all"``."""
    if variant == "all":
        return allowed
    if variant not in allowed:
        raise ValueError(f"{metric} variant must be one of {allowed + ('all',)}, got {variant!r}")
    return (variant,)
