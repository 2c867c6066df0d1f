"""Linear centred kernel alignment (CKA; Kornblith et al. 2019, "Similarity of neural network representations
revisited", ICML): how alike two representations of the same examples are, whatever their widths.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mnist1d_jax.analysis.feature_checks import HIGHEST, Array, check_features


def linear_cka(X: Array, Y: Array) -> Array:
    """Linear centred kernel alignment (Kornblith et al. 2019, eq. 4): a similarity in ``[0, 1]``.

    ``CKA(X, Y) = |Yc^T Xc|_F^2 / (|Xc^T Xc|_F |Yc^T Yc|_F)`` with ``Xc = X - mean_rows(X)`` ``(N, D1)`` and
    ``Yc`` ``(N, D2)`` column-centred; the same ``N`` examples in both, any widths. 1 for ``X = Y``;
    invariant to orthogonal transforms and isotropic scaling of either argument (not to general invertible
    maps); about ``sqrt(D1 D2) / N`` for independent random features. When ``N`` is smaller than a width it
    is computed through the ``(N, N)`` Gram matrices, using ``|A^T B|_F^2 = <A A^T, B B^T>_F``; NaN if
    either argument has no variance.
    """
    X = check_features(X, "X")
    Y = check_features(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y disagree on N: {X.shape[0]} and {Y.shape[0]} rows")
    return _cka(X, Y)


@jax.jit
def _cka(X, Y):
    dtype = jnp.result_type(X.dtype, Y.dtype)
    xc = (X - X.mean(axis=0)).astype(dtype)
    yc = (Y - Y.mean(axis=0)).astype(dtype)
    if X.shape[0] < max(X.shape[1], Y.shape[1]):
        kx = jnp.matmul(xc, xc.T, precision=HIGHEST)  # (N, N)
        ky = jnp.matmul(yc, yc.T, precision=HIGHEST)
        return jnp.sum(kx * ky) / (jnp.linalg.norm(kx) * jnp.linalg.norm(ky))
    cross = jnp.matmul(yc.T, xc, precision=HIGHEST)  # (D2, D1)
    return jnp.sum(cross**2) / (jnp.linalg.norm(jnp.matmul(xc.T, xc, precision=HIGHEST))
                                * jnp.linalg.norm(jnp.matmul(yc.T, yc, precision=HIGHEST)))
