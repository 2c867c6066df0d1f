"""Class statistics of features: class counts and means, within-, between-class and total covariance.

Inputs: features ``h (N, D)`` (floating), integer labels ``y (N,)`` in ``[0, K)``, ``K`` a static Python int.
With ``n_c`` the number of examples of class ``c`` and ``K'`` the number of classes present in ``y``:

* ``mu_c = (1 / n_c) sum_{i: y_i = c} h_i`` (class means) and ``mu_G = (1 / N) sum_i h_i``, the **mean of all
  examples** (Papyan et al.'s "global mean"; equal to the mean of the class means only when the classes are
  balanced: with unbalanced classes the centred class means of a perfect simplex ETF are not exactly
  equiangular about it);
* ``Sigma_W = (1 / N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T`` (within-class covariance),
  ``Sigma_B = (1 / K') sum_c (mu_c - mu_G)(mu_c - mu_G)^T`` (between-class covariance, one vote per present
  class) and ``Sigma_T = (1 / N) sum_i (h_i - mu_G)(h_i - mu_G)^T`` (total covariance). In general
  ``Sigma_T = Sigma_W + sum_c (n_c / N)(mu_c - mu_G)(mu_c - mu_G)^T``, which is ``Sigma_W + Sigma_B`` for
  balanced classes.

A class absent from ``y`` has no mean and is left out of every class average. The public functions check
their inputs (`feature_checks`); the jitted kernels (`masked_class_stats`, `sigma_w`, `sigma_b`, `sigma_t`)
take checked arrays and are what the neural-collapse metrics (`collapse`) build on.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from mnist1d_jax.analysis.feature_checks import HIGHEST, Array, check_features, check_hy, check_k


def class_counts(y: Array, K: int) -> Array:
    """``n_c``, the number of examples of each class: ``(K,)`` int32 (0 for an absent class)."""
    return jnp.bincount(jnp.asarray(y), length=check_k(K))


@partial(jax.jit, static_argnames="K")
def masked_class_stats(h: Array, y: Array, K: int):
    """Masked class statistics: ``(mu_c (K, D) with absent rows 0, mu_G (D,), counts (K,), present (K,) bool)``."""
    onehot = jax.nn.one_hot(y, K, dtype=h.dtype)  # (N, K)
    counts = onehot.sum(axis=0)  # (K,)
    present = counts > 0
    sums = jnp.matmul(onehot.T, h, precision=HIGHEST)  # (K, D)
    mu_c = jnp.where(present[:, None], sums / jnp.maximum(counts, 1)[:, None], 0)
    mu_g = h.mean(axis=0)
    return mu_c, mu_g, counts, present


def class_means(h: Array, y: Array, K: int) -> tuple[Array, Array]:
    """The class means and the global mean: ``(mu_c (K, D), mu_G (D,))``, in ``h``'s units.

    ``mu_c = (1 / n_c) sum_{i: y_i = c} h_i``; ``mu_G = (1 / N) sum_i h_i`` is the mean of **all examples**
    (not the mean of the class means; the two agree for balanced classes). The row of a class absent from
    ``y`` is NaN (it has no mean).
    """
    h, y, K = check_hy(h, y, K)
    mu_c, mu_g, _, present = masked_class_stats(h, y, K)
    return jnp.where(present[:, None], mu_c, jnp.nan), mu_g


def centred_class_means(h: Array, y: Array, K: int) -> tuple[Array, Array]:
    """``M = mu_c - mu_G`` ``(K, D)`` (rows of absent classes 0) and the mask of present classes ``(K,)`` bool."""
    h, y, K = check_hy(h, y, K)
    mu_c, mu_g, _, present = masked_class_stats(h, y, K)
    return jnp.where(present[:, None], mu_c - mu_g, 0), present


@jax.jit
def sigma_w(h: Array, y: Array, mu_c: Array) -> Array:
    """``Sigma_W`` ``(D, D)`` of checked ``h (N, D)``, ``y (N,)`` and class means ``mu_c (K, D)``."""
    centred = h - mu_c[y]  # (N, D)
    return jnp.matmul(centred.T, centred, precision=HIGHEST) / h.shape[0]


@jax.jit
def sigma_b(mu_c: Array, mu_g: Array, present: Array) -> Array:
    """``Sigma_B`` ``(D, D)`` of masked class means ``mu_c (K, D)``, ``mu_G (D,)`` and ``present (K,)``."""
    m = jnp.where(present[:, None], mu_c - mu_g, 0)  # (K, D)
    return jnp.matmul(m.T, m, precision=HIGHEST) / present.sum()


@jax.jit
def sigma_t(h: Array) -> Array:
    """``Sigma_T`` ``(D, D)`` of checked ``h (N, D)``."""
    centred = h - h.mean(axis=0)
    return jnp.matmul(centred.T, centred, precision=HIGHEST) / h.shape[0]


def within_class_covariance(h: Array, y: Array, K: int) -> Array:
    """``Sigma_W = (1 / N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T``: ``(D, D)``, in ``h``'s units squared."""
    h, y, K = check_hy(h, y, K)
    mu_c, _, _, _ = masked_class_stats(h, y, K)
    return sigma_w(h, y, mu_c)


def between_class_covariance(h: Array, y: Array, K: int) -> Array:
    """``Sigma_B = (1 / K') sum_{c present} (mu_c - mu_G)(mu_c - mu_G)^T``: ``(D, D)``, ``h``'s units squared.

    An unweighted average over the ``K'`` classes present (Papyan et al.'s ``Ave_c``), centred on the mean of
    all examples ``mu_G``. Its rank is at most ``min(K' - 1, D)``.
    """
    h, y, K = check_hy(h, y, K)
    mu_c, mu_g, _, present = masked_class_stats(h, y, K)
    return sigma_b(mu_c, mu_g, present)


def total_covariance(h: Array, y: Array | None = None, K: int | None = None) -> Array:
    """``Sigma_T = (1 / N) sum_i (h_i - mu_G)(h_i - mu_G)^T``: ``(D, D)``, in ``h``'s units squared.

    The labels are not needed (``y`` and ``K``, if given, are only checked). With balanced classes
    ``Sigma_T = Sigma_W + Sigma_B``; in general ``Sigma_T = Sigma_W + sum_c (n_c / N)(mu_c - mu_G)(mu_c - mu_G)^T``.
    """
    h = check_hy(h, y, K)[0] if y is not None or K is not None else check_features(h)
    return sigma_t(h)
