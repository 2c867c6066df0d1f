"""Neural collapse: NC1-NC4 (Papyan, Han & Donoho 2020, "Prevalence of neural collapse during the terminal
phase of deep learning training", PNAS), each variant named, and all of them at once (`collapse_metrics`).

Inputs: features ``h (N, D)`` (floating; e.g. a model's penultimate activations on ``N`` examples), integer
labels ``y (N,)`` in ``[0, K)``, ``K`` a Python int (static under ``jax.jit``). Every metric is a dimensionless
0-d array in ``h``'s dtype, built on the class means and covariances of `class_stats` (``mu_c``, ``mu_G``,
``Sigma_W``, ``Sigma_B``, ``Sigma_T``, defined there).

**Absent classes.** A class with no example in ``y`` has no mean: it is left out of every class average, and
``K'`` (the number of classes present) replaces ``K`` in every formula (``Sigma_B``, NC1's ``1 / K``, NC2's
``1 / (K - 1)``, the pairs ``c != c'``); its classifier row is left out of NC3 and it is never predicted by the
nearest-class-mean rule of NC4. So a result with ``K = 5`` and class 4 absent equals the result with ``K = 4``.
Fewer than 2 classes present makes every metric undefined: eager calls raise ``ValueError``; under ``jax.jit``
that check cannot run (`feature_checks`) and such inputs give NaN or meaningless numbers.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from mnist1d_jax.analysis.class_stats import centred_class_means, masked_class_stats, sigma_t, sigma_w
from mnist1d_jax.analysis.feature_checks import HIGHEST, Array, check_features, check_hy, check_variant

NC1_VARIANTS = ("trace_ratio", "papyan")
NC4_VARIANTS = ("agreement", "mismatch")


def nc1(h: Array, y: Array, K: int, variant: str, rcond: float | None = None) -> dict[str, Array]:
    """NC1, the within-class variability collapse, as ``{"nc1_<variant>": value}`` (``variant="all"``: both).

    * ``"trace_ratio"``: ``Tr(Sigma_W) / Tr(Sigma_T)`` in ``[0, 1]``: the fraction of the total variance left
      within classes (0 at collapse; about ``1 - (K' - 1) / N`` for features independent of the labels).
    * ``"papyan"``: ``Tr(Sigma_W Sigma_B^+) / K'`` (Papyan et al., Fig. 6), ``Sigma_B^+`` the Moore-Penrose
      pseudo-inverse: singular values of ``Sigma_B`` below ``rcond * sigma_max`` count as 0, with
      ``rcond = 10 * D * eps(dtype)`` by default (``eps`` = 1.19e-7 in float32), the usual default. 0 at
      collapse, unbounded above.

    There is no default variant: name one (or ``"all"``), and every key names its variant.
    """
    names = check_variant(variant, NC1_VARIANTS, "nc1")
    h, y, K = check_hy(h, y, K)
    return _nc1(h, y, K, names, rcond)


@partial(jax.jit, static_argnames=("K", "names", "rcond"))
def _nc1(h, y, K, names, rcond):
    mu_c, mu_g, _, present = masked_class_stats(h, y, K)
    sw = sigma_w(h, y, mu_c)
    out = {}
    if "trace_ratio" in names:
        out["nc1_trace_ratio"] = jnp.trace(sw) / jnp.trace(sigma_t(h))
    if "papyan" in names:
        # Through the (K, K) Gram matrix instead of a (D, D) pseudo-inverse: with Sigma_B = A^T A (the rows of A
        # are the centred class means over sqrt(K')), Sigma_B^+ = A^T (A A^T)^+2 A, so
        # Tr(Sigma_W Sigma_B^+) = Tr(A Sigma_W A^T (A A^T)^+2). A A^T has Sigma_B's non-zero eigenvalues, so the
        # cut-off (rcond times the largest) is the same. It costs O(K^3) instead of O(D^3), and it avoids a
        # (D, D) eigendecomposition, which hung in a program vmapped over several runs per device and sharded
        # over the CPU devices (jax 0.10, XLA:CPU; a 10 x 10 one does not).
        k = present.sum()
        a = jnp.where(present[:, None], mu_c - mu_g, 0) / jnp.sqrt(k).astype(h.dtype)  # (K, D)
        lam, vec = jnp.linalg.eigh(jnp.matmul(a, a.T, precision=HIGHEST))  # (K,), (K, K)
        tol = (10 * h.shape[1] * jnp.finfo(h.dtype).eps if rcond is None else rcond) * jnp.max(lam)
        inv2 = jnp.where(lam > tol, 1 / jnp.where(lam > tol, lam, 1) ** 2, 0)
        gram_pinv2 = jnp.matmul(vec * inv2, vec.T, precision=HIGHEST)  # (A A^T)^+2
        proj = jnp.matmul(a, (h - mu_c[y]).T, precision=HIGHEST)  # (K, N): A (h_i - mu_{y_i})
        a_sw_at = jnp.matmul(proj, proj.T, precision=HIGHEST) / h.shape[0]  # A Sigma_W A^T
        out["nc1_papyan"] = jnp.sum(a_sw_at * gram_pinv2) / k  # both symmetric: Tr(X Y) = sum_ij X_ij Y_ij
    return out


def _pair_mask(present: Array) -> Array:
    return present[:, None] & present[None, :] & ~jnp.eye(present.shape[0], dtype=bool)


def _masked_mean_std(x: Array, mask: Array) -> tuple[Array, Array]:
    n = mask.sum()
    mean = jnp.where(mask, x, 0).sum() / n
    var = jnp.where(mask, (x - mean) ** 2, 0).sum() / n
    return mean, jnp.sqrt(var)


@jax.jit
def _cosines(m: Array, present: Array) -> Array:
    norms = jnp.linalg.norm(m, axis=1)
    unit = m / jnp.where(present, norms, 1)[:, None]
    return jnp.matmul(unit, unit.T, precision=HIGHEST)


def class_mean_cosines(h: Array, y: Array, K: int) -> Array:
    """``cos(mu_c - mu_G, mu_c' - mu_G)``: ``(K, K)``; rows and columns of absent classes NaN.

    At collapse (a simplex ETF) every off-diagonal entry is ``-1 / (K' - 1)`` (balanced classes).
    """
    m, present = centred_class_means(h, y, K)
    both = present[:, None] & present[None, :]
    return jnp.where(both, _cosines(m, present), jnp.nan)


def nc2(h: Array, y: Array, K: int) -> dict[str, Array]:
    """NC2, convergence of the centred class means to a simplex equiangular tight frame (Papyan et al., Figs 2-4).

    With ``m_c = mu_c - mu_G`` over the ``K'`` present classes and ``cos_cc' = <m_c, m_c'> / (|m_c| |m_c'|)``:

    * ``"nc2_equinorm"``: ``std_c |m_c| / mean_c |m_c|`` (coefficient of variation of the norms; std with
      ``1 / K'``, not ``1 / (K' - 1)``): 0 when all centred means have the same length;
    * ``"nc2_equiangularity"``: ``std_{c != c'} cos_cc'`` (over the ``K' (K' - 1)`` ordered pairs, ``1 / n``
      std): 0 when all pairs meet at the same angle;
    * ``"nc2_max_angle_deviation"``: ``mean_{c != c'} |cos_cc' + 1 / (K' - 1)|``: 0 when that angle is the
      simplex's, the largest possible for ``K'`` equiangular vectors.
    """
    h, y, K = check_hy(h, y, K)
    return _nc2(h, y, K)


@partial(jax.jit, static_argnames="K")
def _nc2(h, y, K):
    mu_c, mu_g, _, present = masked_class_stats(h, y, K)
    m = jnp.where(present[:, None], mu_c - mu_g, 0)
    k_present = present.sum()
    norm_mean, norm_std = _masked_mean_std(jnp.linalg.norm(m, axis=1), present)
    pairs = _pair_mask(present)
    cos = _cosines(m, present)
    _, cos_std = _masked_mean_std(cos, pairs)
    dev = jnp.where(pairs, jnp.abs(cos + 1 / (k_present - 1)), 0).sum() / pairs.sum()
    return {"nc2_equinorm": norm_std / norm_mean, "nc2_equiangularity": cos_std, "nc2_max_angle_deviation": dev}


def nc3(h: Array, y: Array, W: Array, K: int) -> dict[str, Array]:
    """NC3, self-duality of classifier and class means: ``{"nc3_self_duality": |W/|W|_F - M/|M|_F|_F^2}``.

    ``W`` ``(K, D)``: the last layer's weights, one row per class (a Flax ``Dense`` kernel is ``(D, K)``: pass
    its transpose). ``M = [mu_c - mu_G]_c`` ``(K, D)``. The rows of absent classes are dropped from both ``W``
    and ``M`` before the Frobenius norms. Dimensionless, in ``[0, 4]``: 0 when ``W`` is a positive multiple of
    ``M`` (Papyan et al., Fig. 5).
    """
    h, y, K = check_hy(h, y, K)
    W = check_features(W, "W")
    if W.shape != (K, h.shape[1]):
        raise ValueError(f"W must have shape (K, D) = ({K}, {h.shape[1]}), got {W.shape}")
    return _nc3(h, y, W, K)


@partial(jax.jit, static_argnames="K")
def _nc3(h, y, W, K):
    mu_c, mu_g, _, present = masked_class_stats(h, y, K)
    m = jnp.where(present[:, None], mu_c - mu_g, 0)
    w = jnp.where(present[:, None], W.astype(h.dtype), 0)
    diff = w / jnp.linalg.norm(w) - m / jnp.linalg.norm(m)
    return {"nc3_self_duality": jnp.sum(diff**2)}


def nearest_class_mean(h: Array, y: Array, K: int) -> Array:
    """``argmin_c |h_i - mu_c|_2`` over the present classes: ``(N,)`` int32, the nearest-class-mean predictions.

    The means come from ``(h, y)``; computed as ``|mu_c|^2 - 2 <h_i, mu_c>`` (the ``|h_i|^2`` term is common
    to every class), an ``(N, K)`` matrix, with absent classes at distance ``+inf``.
    """
    h, y, K = check_hy(h, y, K)
    return _ncc(h, y, K)


@partial(jax.jit, static_argnames="K")
def _ncc(h, y, K):
    mu_c, _, _, present = masked_class_stats(h, y, K)
    dist = jnp.sum(mu_c**2, axis=1)[None, :] - 2 * jnp.matmul(h, mu_c.T, precision=HIGHEST)
    return jnp.argmin(jnp.where(present[None, :], dist, jnp.inf), axis=1).astype(jnp.int32)


def nc4(h: Array, y: Array, logits_or_pred: Array, K: int, variant: str) -> dict[str, Array]:
    """NC4, simplification to the nearest class mean, as ``{"nc4_<variant>": value}`` (``variant="all"``: both).

    ``logits_or_pred``: the network's logits ``(N, K)`` (its prediction is the argmax) or its integer
    predictions ``(N,)``. With ``ncc_i = argmin_c |h_i - mu_c|_2`` (`nearest_class_mean`, Euclidean, to the
    uncentred class means of ``(h, y)``):

    * ``"agreement"``: ``(1 / N) #{i : ncc_i = pred_i}``, a fraction in ``[0, 1]`` (1 at collapse);
    * ``"mismatch"``: ``1 - agreement`` (Papyan et al., Fig. 7, plot this one).

    There is no default variant: name one (or ``"all"``), and every key names its variant.
    """
    names = check_variant(variant, NC4_VARIANTS, "nc4")
    h, y, K = check_hy(h, y, K)
    p = jnp.asarray(logits_or_pred)
    if p.ndim == 2:
        if p.shape != (h.shape[0], K):
            raise ValueError(f"logits must have shape (N, K) = ({h.shape[0]}, {K}), got {p.shape}")
    elif p.ndim == 1:
        if p.shape[0] != h.shape[0]:
            raise ValueError(f"predictions must have shape (N,) = ({h.shape[0]},), got {p.shape}")
        if not jnp.issubdtype(p.dtype, jnp.integer):
            raise ValueError(f"predictions of shape (N,) must be integers, got dtype {p.dtype}")
    else:
        raise ValueError(f"logits_or_pred must have shape (N, K) or (N,), got shape {p.shape}")
    return _nc4(h, y, p, K, names)


@partial(jax.jit, static_argnames=("K", "names"))
def _nc4(h, y, p, K, names):
    pred = jnp.argmax(p, axis=1) if p.ndim == 2 else p
    agree = jnp.sum(_ncc(h, y, K) == pred)  # an integer count, so the two fractions are exact and sum to 1
    n = h.shape[0]
    out = {}
    if "agreement" in names:
        out["nc4_agreement"] = (agree / n).astype(h.dtype)
    if "mismatch" in names:
        out["nc4_mismatch"] = ((n - agree) / n).astype(h.dtype)
    return out


def collapse_metrics(h: Array, y: Array, K: int, W: Array | None = None, logits: Array | None = None
                     ) -> dict[str, Array]:
    """Every neural-collapse metric in one flat dict, each key naming its metric and variant.

    Keys: ``nc1_trace_ratio``, ``nc1_papyan`` (`nc1`); ``nc2_equinorm``, ``nc2_equiangularity``,
    ``nc2_max_angle_deviation`` (`nc2`); ``nc3_self_duality`` when ``W`` ``(K, D)`` is given (`nc3`);
    ``nc4_agreement``, ``nc4_mismatch`` when ``logits`` ``(N, K)`` (or integer predictions ``(N,)``) are given
    (`nc4`). Jit with ``jax.jit(collapse_metrics, static_argnames="K")``.
    """
    out = {**nc1(h, y, K, "all"), **nc2(h, y, K)}
    if W is not None:
        out.update(nc3(h, y, W, K))
    if logits is not None:
        out.update(nc4(h, y, logits, K, "all"))
    return out
