"""Representation diagnostics: neural collapse (NC1-NC4) and linear CKA, all pure, jit-able ``jnp`` functions.

The public face of ``m.representations``: every name is defined in one of the modules below and re-exported
here, so ``from mnist1d_jax.analysis.representations import nc1`` and ``m.representations.nc1`` keep working.

* `class_stats`: class counts and means, within-, between-class and total covariance (the definitions);
* `collapse`: NC1-NC4, each variant named, the nearest-class-mean rule and `collapse_metrics` (all at once);
* `cka`: linear CKA between two representations of the same examples;
* `feature_checks`: the input checks they share.

Inputs: features ``h`` of shape ``(N, D)`` (floating; e.g. a model's penultimate activations on ``N`` examples)
and integer labels ``y`` of shape ``(N,)`` in ``[0, K)``. ``K`` (the number of classes) is a Python ``int``:
pass it as a static argument under ``jax.jit`` (``jax.jit(f, static_argnames="K")``). Every metric is a
dimensionless 0-d array in ``h``'s dtype. A class absent from ``y`` is left out of every class average
(``K'``, the number of classes present, replaces ``K``); under ``jax.jit`` the label values cannot be checked.

All matrix products run at ``Precision.HIGHEST`` (full float32 on every backend), since these are measurements.
"""

from __future__ import annotations

from mnist1d_jax.analysis.cka import linear_cka
from mnist1d_jax.analysis.class_stats import (
    between_class_covariance,
    centred_class_means,
    class_counts,
    class_means,
    total_covariance,
    within_class_covariance,
)
from mnist1d_jax.analysis.collapse import (
    NC1_VARIANTS,
    NC4_VARIANTS,
    class_mean_cosines,
    collapse_metrics,
    nc1,
    nc2,
    nc3,
    nc4,
    nearest_class_mean,
)
from mnist1d_jax.analysis.feature_checks import Array as Array  # the alias the signatures use

__all__ = ["NC1_VARIANTS", "NC4_VARIANTS", "between_class_covariance", "centred_class_means", "class_counts",
           "class_mean_cosines", "class_means", "collapse_metrics", "linear_cka", "nc1", "nc2", "nc3", "nc4",
           "nearest_class_mean", "total_covariance", "within_class_covariance"]
