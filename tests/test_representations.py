"""Neural-collapse metrics and linear CKA (`mnist1d_jax.analysis.representations`) on constructed and random
features."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.analysis import representations as R

K, D = 6, 16


def simplex_etf(k, d, rng, radius=2.0):
    """``k`` unit-free simplex-ETF vertices in ``R^d`` (rows, norm ``radius``, rotated by a random orthonormal map)."""
    centred = np.eye(k) - 1.0 / k  # (k, k), rows sum to 0, pairwise cos -1/(k-1)
    centred *= radius / np.linalg.norm(centred[0])
    u, _ = np.linalg.qr(rng.normal(size=(d, k)))  # (d, k) orthonormal columns
    return centred @ u.T  # (k, d)


def collapsed(k=K, d=D, per_class=20, seed=0):
    """Every example of class c exactly at vertex c (plus a common offset); balanced, shuffled labels."""
    rng = np.random.default_rng(seed)
    vertices = simplex_etf(k, d, rng)
    offset = rng.normal(size=d)
    y = rng.permutation(np.arange(k * per_class) % k)
    h = vertices[y] + offset
    return jnp.asarray(h, jnp.float32), jnp.asarray(y, jnp.int32), jnp.asarray(vertices, jnp.float32), offset


def gaussian(n=4000, d=D, k=K, seed=1):
    rng = np.random.default_rng(seed)
    return (jnp.asarray(rng.normal(size=(n, d)), jnp.float32), jnp.asarray(rng.integers(0, k, size=n), jnp.int32))


# --------------------------------------------------------------------------------------------------------------
# Perfect collapse
# --------------------------------------------------------------------------------------------------------------
def test_perfect_collapse_gives_zero_nc1_nc2_nc3_and_full_nc4_agreement():
    h, y, vertices, offset = collapsed()
    W = 3.0 * vertices  # any positive multiple of the centred means
    logits = (h - jnp.asarray(offset, jnp.float32)) @ W.T  # a bias of -W mu_G
    m = R.collapse_metrics(h, y, K, W=W, logits=logits)
    assert set(m) == {"nc1_trace_ratio", "nc1_papyan", "nc2_equinorm", "nc2_equiangularity",
                      "nc2_max_angle_deviation", "nc3_self_duality", "nc4_agreement", "nc4_mismatch"}
    for name in ("nc1_trace_ratio", "nc1_papyan", "nc2_equinorm", "nc2_equiangularity",
                 "nc2_max_angle_deviation", "nc3_self_duality", "nc4_mismatch"):
        assert abs(float(m[name])) < 1e-5, (name, float(m[name]))  # float32: about 1e-7 or less
    assert float(m["nc4_agreement"]) == 1.0 and float(m["nc4_mismatch"]) == 0.0
    cos = np.asarray(R.class_mean_cosines(h, y, K))
    off = cos[~np.eye(K, dtype=bool)]
    np.testing.assert_allclose(off, -1 / (K - 1), atol=1e-6)
    np.testing.assert_allclose(np.diag(cos), 1.0, atol=1e-6)
    mu_c, mu_g = R.class_means(h, y, K)
    np.testing.assert_allclose(mu_c, vertices + offset, atol=1e-5)
    np.testing.assert_allclose(mu_g, offset, atol=1e-5)
    np.testing.assert_array_equal(R.nearest_class_mean(h, y, K), y)


def test_self_duality_detects_a_classifier_that_is_not_the_means():
    h, y, vertices, _ = collapsed()
    W = vertices[::-1]  # rows permuted: the right frame, the wrong classes
    value = float(R.nc3(h, y, W, K)["nc3_self_duality"])
    # both unit-Frobenius with <W, M> = -K r^2 / (K - 1) / (K r^2): |A - B|^2 = 2 - 2 <A, B> = 2 + 2 / (K - 1)
    np.testing.assert_allclose(value, 2 + 2 / (K - 1), rtol=1e-5)


# --------------------------------------------------------------------------------------------------------------
# Random features
# --------------------------------------------------------------------------------------------------------------
def test_random_gaussian_features_with_random_labels_are_not_collapsed():
    h, y = gaussian()
    n = h.shape[0]
    tr = float(R.nc1(h, y, K, "trace_ratio")["nc1_trace_ratio"])
    assert tr > 0.99  # expected about 1 - (K - 1) / N = 0.99875
    assert abs(tr - (1 - (K - 1) / n)) < 5e-3
    assert float(R.nc1(h, y, K, "papyan")["nc1_papyan"]) > 10  # 344 here: Sigma_B is sampling noise, of order 1/n_c
    rng = np.random.default_rng(2)
    logits = jnp.asarray(rng.normal(size=(n, K)), jnp.float32)  # a network independent of h
    agreement = float(R.nc4(h, y, logits, K, "agreement")["nc4_agreement"])
    assert abs(agreement - 1 / K) < 0.03  # chance; 3 sigma is 0.018
    nc2 = R.nc2(h, y, K)  # this seed: equinorm 0.23, equiangularity 0.25, max_angle_deviation 0.19
    assert all(float(nc2[name]) > 0.1 for name in ("nc2_equinorm", "nc2_equiangularity", "nc2_max_angle_deviation"))


def test_covariances_decompose_and_match_numpy():
    h, y = gaussian(n=300, seed=3)
    hn, yn = np.asarray(h, np.float64), np.asarray(y)
    mu = np.stack([hn[yn == c].mean(0) for c in range(K)])
    g = hn.mean(0)
    sw = np.einsum("ni,nj->ij", hn - mu[yn], hn - mu[yn]) / len(hn)
    sb = (mu - g).T @ (mu - g) / K
    st = (hn - g).T @ (hn - g) / len(hn)
    np.testing.assert_allclose(R.within_class_covariance(h, y, K), sw, atol=1e-5)
    np.testing.assert_allclose(R.between_class_covariance(h, y, K), sb, atol=1e-5)
    np.testing.assert_allclose(R.total_covariance(h), st, atol=1e-5)
    weights = np.bincount(yn, minlength=K) / len(yn)
    np.testing.assert_allclose(st, sw + np.einsum("c,ci,cj->ij", weights, mu - g, mu - g), atol=1e-10)
    papyan = np.trace(sw @ np.linalg.pinv(sb)) / K
    np.testing.assert_allclose(R.nc1(h, y, K, "papyan")["nc1_papyan"], papyan, rtol=1e-3)
    # balanced classes: Sigma_T = Sigma_W + Sigma_B
    hc, yc, _, _ = collapsed()
    hc = hc + 0.1 * jnp.asarray(np.random.default_rng(4).normal(size=hc.shape), jnp.float32)
    np.testing.assert_allclose(R.total_covariance(hc), R.within_class_covariance(hc, yc, K)
                               + R.between_class_covariance(hc, yc, K), atol=1e-5)


def test_an_absent_class_is_left_out_everywhere():
    rng = np.random.default_rng(5)
    h = jnp.asarray(rng.normal(size=(500, D)) + 2 * rng.normal(size=(1, D)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 4, size=500), jnp.int32)  # classes 0..3 only
    W = jnp.asarray(rng.normal(size=(5, D)), jnp.float32)
    logits = jnp.asarray(rng.normal(size=(500, 4)), jnp.float32)
    five = R.collapse_metrics(h, y, 5, W=W, logits=jnp.concatenate([logits, jnp.full((500, 1), -1e9)], 1))
    four = R.collapse_metrics(h, y, 4, W=W[:4], logits=logits)
    assert set(five) == set(four)
    for name in four:
        np.testing.assert_allclose(five[name], four[name], rtol=1e-5, atol=1e-6, err_msg=name)
    mu_c, _ = R.class_means(h, y, 5)
    assert np.isnan(np.asarray(mu_c[4])).all() and np.isfinite(np.asarray(mu_c[:4])).all()
    assert int(R.class_counts(y, 5)[4]) == 0
    assert int(jnp.max(R.nearest_class_mean(h, y, 5))) <= 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_are_invariant_to_rotation_translation_and_scale(seed):
    """A property on a few seeds: NC1-NC4 depend on the geometry of the features, not their frame or units."""
    rng = np.random.default_rng(10 + seed)
    n, k = 240, 4
    y = jnp.asarray(rng.integers(0, k, size=n), jnp.int32)
    h = jnp.asarray(rng.normal(size=(n, D)) + 3 * rng.normal(size=(k, D))[np.asarray(y)], jnp.float32)
    W = jnp.asarray(rng.normal(size=(k, D)), jnp.float32)
    logits = h @ W.T
    q, _ = np.linalg.qr(rng.normal(size=(D, D)))
    q = jnp.asarray(q, jnp.float32)
    shift = jnp.asarray(rng.normal(size=D), jnp.float32)
    scale = 2.5
    base = R.collapse_metrics(h, y, k, W=W, logits=logits)
    moved = R.collapse_metrics(scale * h @ q + shift, y, k, W=W @ q, logits=logits)
    for name in base:
        np.testing.assert_allclose(moved[name], base[name], rtol=2e-4, atol=1e-5, err_msg=name)
    assert 0 <= float(base["nc1_trace_ratio"]) <= 1
    assert 0 <= float(base["nc3_self_duality"]) <= 4
    np.testing.assert_allclose(base["nc4_agreement"] + base["nc4_mismatch"], 1.0, atol=1e-7)
    # more within-class noise on the same means: less collapse, by both NC1 variants
    noisier = R.nc1(h + 2 * jnp.asarray(rng.normal(size=(n, D)), jnp.float32), y, k, "all")
    assert float(noisier["nc1_trace_ratio"]) > float(base["nc1_trace_ratio"])
    assert float(noisier["nc1_papyan"]) > float(base["nc1_papyan"])


# --------------------------------------------------------------------------------------------------------------
# Linear CKA
# --------------------------------------------------------------------------------------------------------------
def test_linear_cka_identity_invariances_and_independence():
    rng = np.random.default_rng(6)
    x = jnp.asarray(rng.normal(size=(500, 12)) @ rng.normal(size=(12, 12)), jnp.float32)
    np.testing.assert_allclose(R.linear_cka(x, x), 1.0, rtol=1e-5)
    q, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    y = jnp.tanh(x @ jnp.asarray(rng.normal(size=(12, 7)), jnp.float32))
    base = float(R.linear_cka(x, y))
    assert 0.1 < base < 1
    np.testing.assert_allclose(R.linear_cka(x @ jnp.asarray(q, jnp.float32), y), base, rtol=1e-4)
    np.testing.assert_allclose(R.linear_cka(7.0 * x + 3.0, y), base, rtol=1e-4)
    np.testing.assert_allclose(R.linear_cka(y, x), base, rtol=1e-5)  # symmetric
    indep = jnp.asarray(rng.normal(size=(2000, 10)), jnp.float32)
    other = jnp.asarray(rng.normal(size=(2000, 10)), jnp.float32)
    assert float(R.linear_cka(indep, other)) < 0.03  # about sqrt(D1 D2) / N = 0.005


def _cka_reference(x, y):
    xc, yc = x - x.mean(0), y - y.mean(0)
    return np.linalg.norm(yc.T @ xc) ** 2 / (np.linalg.norm(xc.T @ xc) * np.linalg.norm(yc.T @ yc))


def test_linear_cka_gram_path_and_feature_path_match_the_definition():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(20, 30))
    y = x[:, :25] + 0.5 * rng.normal(size=(20, 25))
    for a, b in ((x, y), (x[:, :10], y[:, :10])):  # N < D: the (N, N) Gram path; N > D: the (D, D) path
        got = R.linear_cka(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32))
        np.testing.assert_allclose(got, _cka_reference(a, b), rtol=1e-4)


# --------------------------------------------------------------------------------------------------------------
# jit and bad inputs
# --------------------------------------------------------------------------------------------------------------
def test_jit_equals_eager():
    h, y = gaussian(n=400, seed=8)
    rng = np.random.default_rng(8)
    W = jnp.asarray(rng.normal(size=(K, D)), jnp.float32)
    logits = h @ W.T
    eager = R.collapse_metrics(h, y, K, W=W, logits=logits)
    jitted = jax.jit(R.collapse_metrics, static_argnames="K")(h, y, K=K, W=W, logits=logits)
    assert set(eager) == set(jitted)
    for name in eager:
        np.testing.assert_allclose(jitted[name], eager[name], rtol=1e-5, atol=1e-7, err_msg=name)
    np.testing.assert_allclose(jax.jit(R.linear_cka)(h, logits), R.linear_cka(h, logits), rtol=1e-6)
    pred = jnp.argmax(logits, 1).astype(jnp.int32)
    f = jax.jit(R.nc4, static_argnames=("K", "variant"))
    np.testing.assert_allclose(f(h, y, pred, K=K, variant="mismatch")["nc4_mismatch"], eager["nc4_mismatch"])


def _raises(fn, match):
    with pytest.raises(ValueError, match=match) as info:
        fn()
    assert "\n" not in str(info.value)


def test_bad_inputs_raise_one_line_value_errors():
    h, y = gaussian(n=50, seed=9)
    W = jnp.ones((K, D))
    _raises(lambda: R.nc1(h[0], y, K, "papyan"), "shape")
    _raises(lambda: R.nc1(h, y[:, None], K, "papyan"), "shape")
    _raises(lambda: R.nc1(h, y[:-1], K, "papyan"), "disagree")
    _raises(lambda: R.nc1(h, y.astype(jnp.float32), K, "papyan"), "integer")
    _raises(lambda: R.nc1(h.astype(jnp.int32), y, K, "papyan"), "floating")
    _raises(lambda: R.nc1(h, y, K, "trace"), "variant")
    _raises(lambda: R.nc1(h, y, 1, "papyan"), "at least 2")
    _raises(lambda: R.nc1(h, y, 6.0, "papyan"), "Python int")
    _raises(lambda: R.nc2(h, y, 3), r"\[0, 3\)")
    _raises(lambda: R.nc2(h, y - 1, K), "lie in")
    _raises(lambda: R.nc2(h, jnp.zeros_like(y), K), "at least 2 classes")
    _raises(lambda: R.nc3(h, y, W.T, K), "W must have shape")
    _raises(lambda: R.nc4(h, y, jnp.ones((50, K + 1)), K, "agreement"), "logits")
    _raises(lambda: R.nc4(h, y, jnp.ones(50), K, "agreement"), "integers")
    _raises(lambda: R.nc4(h, y, y, K, "agree"), "variant")
    _raises(lambda: R.linear_cka(h, h[:-1]), "disagree")
    _raises(lambda: R.linear_cka(h[0], h), "shape")
    with pytest.raises(TypeError):
        R.nc1(h, y, K)  # the variant must be named
