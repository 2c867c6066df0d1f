"""The self-supervised study: the augmentation, the loss, the probe against scikit-learn, a tiny run."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.studies import ssl


def test_augmentation_removes_mean_and_trend_before_shifting():
    config = ssl.SSLConfig(max_shift=1, slope_std=0.0, offset_std=0.0)  # no shift, no added slope/offset
    x = 3.0 + 0.5 * ssl.POSITIONS[None] + jax.random.normal(jax.random.key(0), (4, 40))
    view = ssl.augment(jax.random.key(1), x, config)
    np.testing.assert_allclose(view.mean(-1), 0, atol=1e-5)
    np.testing.assert_allclose(view @ ssl.POSITIONS, 0, atol=1e-3)


def test_info_nce_prefers_matching_views():
    z = jax.random.normal(jax.random.key(0), (8, 16))
    assert ssl.info_nce(z, z, 0.5) < ssl.info_nce(z, jnp.roll(z, 1, axis=0), 0.5)


def test_linear_probe_matches_scikit_learn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6)) + np.repeat(np.arange(10), 30)[:, None] * 0.3
    y = np.repeat(np.arange(10), 30)
    x_test, y_test = x + rng.normal(scale=0.5, size=x.shape), y
    scaler = StandardScaler().fit(x)
    reference = LogisticRegression(C=1.0, tol=1e-8, max_iter=5000).fit(scaler.transform(x), y)
    expected = 100 * reference.score(scaler.transform(x_test), y_test)
    ours = ssl.linear_probe(jnp.asarray(x, jnp.float32), jnp.asarray(y), jnp.asarray(x_test, jnp.float32),
                            jnp.asarray(y_test))
    assert float(ours) == pytest.approx(expected, abs=0.7)  # at most two of 300 predictions differ


def test_tiny_run(run_quick):
    record, saved = run_quick("ssl")
    probes = np.asarray(saved["variants"]["default"]["probe_accuracy"])
    assert probes.shape == (1, 6)  # input, 3 convolutions, projector hidden, z
    assert probes[0, 0] == pytest.approx(saved["pixel_probe"]) and 30 < probes[0, 0] < 35  # 10 L-BFGS steps
    assert len(saved["variants"]["default"]["loss_curve"][0]) == 1
