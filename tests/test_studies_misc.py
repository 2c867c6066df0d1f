"""Pooling, SSL and class-wise-error studies: their pieces, and each script end to end on a tiny config."""

import json
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.studies import classwise_errors, pooling, ssl


def test_human_quiz_is_deduplicated():
    human = classwise_errors.human_answers()
    assert len(human["index"]) == 400 and len(set(human["index"].tolist())) == 400
    assert human["quiz_accuracy"] == [96.0, 96.0, 96.0, 97.0, 94.0]
    assert 100 * (human["guess"] == human["truth"]).mean() == pytest.approx(95.75)


def test_class_error_rates():
    truth = np.array([0, 0, 1, 1, 1, 2])
    predicted = np.array([0, 1, 1, 1, 0, 2])
    rates = classwise_errors.class_error_rates(predicted, truth)
    np.testing.assert_allclose(rates[:3], [50.0, 100 / 3, 0.0])
    assert np.isnan(rates[3:]).all()  # classes absent from `truth`


def test_pooling_sizes_are_exact():
    for size in pooling.PoolingConfig().sizes:
        config = pooling.dataset_config(size)
        assert (config.num_train, config.num_test) == (size, 1000)


def test_pooling_claims_logic():
    runs = {}
    for size, accs in {1000: (60, 57, 78, 77, 77), 50000: (97, 95, 96, 96, 96.5)}.items():
        for variant, acc in zip(pooling.VARIANTS, accs, strict=True):
            runs[f"{size}/{variant}"] = {"final_test_acc": [acc, acc]}
    claims = pooling.claims({"runs": runs})
    assert claims["advantage_shrinks"] and claims["pooling_hurts_at_largest_size"]
    assert claims["l2_beats_max_at_largest_size"]


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


@pytest.mark.parametrize("module, record", [("classwise_errors", "classwise_errors.json"),
                                            ("pooling", "pooling.json"), ("ssl", "ssl.json")])
def test_quick_end_to_end(tmp_path, module, record):
    subprocess.run([sys.executable, "-m", f"mnist1d_jax.studies.{module}", "--quick", "--out", str(tmp_path)],
                   check=True, capture_output=True)
    data = json.loads((tmp_path / record).read_text())
    assert data["provenance"]["versions"]["jax"]
    __import__(f"mnist1d_jax.studies.{module}", fromlist=["summarize"]).summarize(data)
    assert any(p.suffix == ".png" for p in tmp_path.iterdir())
