"""The out-of-distribution score of a class-subset run: the AUROC of the maximum softmax probability."""

import jax
import numpy as np
import pytest

from mnist1d_jax.core.evaluation import max_softmax_auroc


def confident(n, margin, k=10, rng=None):
    """``n`` logits whose top class leads the others (zeros) by ``margin``."""
    logits = np.zeros((n, k), np.float32)
    cls = (np.arange(n) % k) if rng is None else rng.integers(0, k, n)
    logits[np.arange(n), cls] = margin
    return logits


def brute_force(logits_in, logits_out):
    p = jax.nn.softmax(np.asarray(logits_in, np.float64), -1).max(-1)
    q = jax.nn.softmax(np.asarray(logits_out, np.float64), -1).max(-1)
    p, q = np.asarray(p)[:, None], np.asarray(q)[None, :]
    return float(np.mean((p > q) + 0.5 * (p == q)))


def test_perfectly_separated_reversed_and_identical():
    sure, unsure = confident(30, 5.0), confident(20, 0.5)
    assert float(max_softmax_auroc(sure, unsure)) == 1.0
    assert float(max_softmax_auroc(unsure, sure)) == 0.0
    assert float(max_softmax_auroc(sure, sure)) == 0.5  # one distribution: every pair a tie or mirrored
    rng = np.random.default_rng(0)
    same = rng.normal(size=(200, 10)).astype(np.float32)
    assert float(max_softmax_auroc(same, same)) == 0.5
    # two samples of one distribution: chance up to sampling noise
    a, b = rng.normal(size=(2000, 10)).astype(np.float32), rng.normal(size=(2000, 10)).astype(np.float32)
    assert abs(float(max_softmax_auroc(a, b)) - 0.5) < 0.03


def test_a_known_value_with_ties():
    # MSP in: {m(3), m(1)}, out: {m(2), m(1)} -> pairs: 3>2, 3>1, 1<2, 1=1 (half) -> 2.5 / 4
    logits_in = np.array([[3.0, 0.0], [1.0, 0.0]], np.float32)
    logits_out = np.array([[2.0, 0.0], [0.0, 1.0]], np.float32)
    assert float(max_softmax_auroc(logits_in, logits_out)) == pytest.approx(0.625)


def test_matches_the_pairwise_definition_on_random_logits():
    rng = np.random.default_rng(1)
    logits_in = (rng.normal(size=(57, 10)) * 2 + confident(57, 1.0, rng=rng)).astype(np.float32)
    logits_out = (rng.normal(size=(31, 10)) * 2).astype(np.float32)
    assert float(max_softmax_auroc(logits_in, logits_out)) == pytest.approx(brute_force(logits_in, logits_out),
                                                                          abs=1e-6)


def test_confident_examples_keep_their_order_where_float32_saturates():
    # softmax's max is exactly 1.0 in float32 for both margins, yet 40 is more confident than 30
    assert float(jax.nn.softmax(confident(1, 30.0))[0].max()) == float(jax.nn.softmax(confident(1, 40.0))[0].max())
    assert float(max_softmax_auroc(confident(5, 40.0), confident(5, 30.0))) == 1.0


def test_leading_axes_jit_and_bad_shapes():
    sure, unsure = confident(6, 5.0), confident(6, 0.5)
    stacked = max_softmax_auroc(np.stack([sure, unsure]), np.stack([unsure, sure]))  # e.g. two seeds
    np.testing.assert_array_equal(np.asarray(stacked), [1.0, 0.0])
    assert float(jax.jit(max_softmax_auroc)(sure, unsure)) == 1.0
    with pytest.raises(ValueError, match="at least one"):
        max_softmax_auroc(sure, unsure[:0])


def test_leading_rows_metrics_equal_split_metrics_of_the_unpadded_sets():
    import jax.numpy as jnp
    import optax

    from mnist1d_jax.core.evaluation import leading_rows_metrics, split_metrics
    from mnist1d_jax.core.step import create_train_state
    from mnist1d_jax.data.splits import Data
    from mnist1d_jax.nn.models import MLP

    rng = np.random.default_rng(1)
    x, xt = (jnp.asarray(rng.normal(size=(n, 40)), jnp.float32) for n in (70, 30))
    y, yt = (jnp.asarray(rng.integers(0, 10, n), jnp.int32) for n in (70, 30))
    state = create_train_state(jax.random.key(0), MLP(), optax.sgd(0.1))
    want = split_metrics(Data(x, y, xt, yt))(state)

    def pad(a, n):
        return jnp.concatenate([a, jnp.zeros((n - len(a), *a.shape[1:]), a.dtype)])

    evaluate = jax.jit(lambda n_train: leading_rows_metrics({"train": (pad(x, 100), pad(y, 100), n_train),
                                                             "test": (pad(xt, 50), pad(yt, 50), 30)})(state))
    got = evaluate(70)
    for name in ("train_acc", "test_acc", "train_loss", "test_loss"):
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6)
