"""Learning to reweight: a tiny run end to end, the weights on closed cases, exact = forward mode, jit = eager,
padded = real width, uniform weights = plain training, determinism; Meta-Weight-Net (weights in (0, 1), its
meta-gradient against a hand-written look-ahead, jit = eager, determinism) and pruning."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn

from mnist1d_jax import meta
from mnist1d_jax.core.sweeps import SweepConfig, init_padded, sweep_widths
from mnist1d_jax.nn.init import init_params
from mnist1d_jax.nn.models import width_model
from mnist1d_jax.report.runner import load_record, run_study
from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import reweight as study
from mnist1d_jax.studies.reweight.measures import noisy_share, peak_index
from mnist1d_jax.studies.reweight.mwnet import MWNet, make_mwnet, mwnet_problem, mwnet_weights, per_example_nll
from mnist1d_jax.studies.reweight.selection import prune_order, pruned


def _close(a, b, **tol):
    jax.tree.map(lambda u, v: np.testing.assert_allclose(np.asarray(u), np.asarray(v), **tol), a, b)


def _ones(params):
    return jax.tree.map(jnp.ones_like, params)


def _weigh(model, x_val, y_val, estimator="exact"):
    return study.make_weigh(study.lookahead_problem(model, 0.01, x_val, y_val), estimator)


class _Data:
    def __init__(self, n=200, n_test=100, seed=0):
        rng = np.random.default_rng(seed)
        self.x = rng.normal(size=(n, 40)).astype(np.float32)
        self.x_test = rng.normal(size=(n_test, 40)).astype(np.float32)
        self.y, self.y_test = (np.argmax(a[:, :10], 1).astype(np.int32) for a in (self.x, self.x_test))


def test_tiny_run(tmp_path):
    record = run_study(study, study.QUICK, tmp_path)
    saved = load_record(study, tmp_path)
    assert (tmp_path / "reweight.json").exists() and (tmp_path / "reweight.png").exists()
    for m in ("plain", "reweight", "oracle", "mwnet", "prune"):
        assert np.shape(saved["methods"][m]["test_error"]) == (2, 1)
    assert saved["methods"]["mwnet"]["n_train"] == 3800
    sel = saved["selection"]
    assert sel["mwnet"]["chosen"] in (1e-3, 1e-2) and len(sel["mwnet"]["val_error"]) == 2
    assert sel["prune"]["chosen"] in (0.0, 0.1) and len(sel["prune"]["val_error"]) == 2
    kept_rows = 3800 - int(round(sel["prune"]["chosen"] * 3800))
    assert saved["methods"]["prune"]["n_train"] == kept_rows + 200
    assert saved["arrays"]["mwnet_weight"].shape == (1, 3800)
    n = saved["methods"]["reweight"]["n_train"]
    assert (saved["methods"]["plain"]["n_train"], n) == (4000, 3800)
    assert saved["methods"]["oracle"]["n_train"] == 4000 - saved["wrong_labels"]
    assert saved["arrays"]["example_weight"].shape == saved["arrays"]["example_kept"].shape == (1, n)
    assert saved["peak_width"] in (3, 6)
    assert np.shape(saved["noisy_share"]) == np.shape(saved["noisy_share_kept"]) == (2, 1)
    assert record["wrong_labels"] == int(saved["arrays"]["noisy"].sum())
    rows = study.report_rows(saved)
    assert sum("drop at the peak" in r["quantity"] for r in rows) == 3


def test_a_duplicate_with_a_flipped_label_gets_zero_weight():
    """A linear model at zero (uniform predictions): the clean example's gradient is aligned with the clean
    validation loss's (weight 1 after normalising), its copy with a flipped label opposes it (weight 0)."""
    model = nn.Dense(10)
    params = jax.tree.map(jnp.zeros_like, init_params(model, jax.random.key(0)))
    x0 = jax.random.normal(jax.random.key(1), (1, 40))
    weigh = _weigh(model, x0, jnp.array([3]))
    w = weigh(params, _ones(params), (jnp.concatenate([x0, x0]), jnp.array([3, 7])), jax.random.key(2))
    np.testing.assert_allclose(np.asarray(w), [1.0, 0.0], atol=1e-6)
    alone = weigh(params, _ones(params), (x0, jnp.array([7])), jax.random.key(2))  # nothing helps: all zero
    np.testing.assert_array_equal(np.asarray(alone), [0.0])


def test_weights_are_a_distribution_exact_equals_forward_and_jit_equals_eager():
    k = jax.random.split(jax.random.key(0), 4)
    model = width_model("mlp", 6)
    params = init_params(model, k[0])
    x_val, y_val = jax.random.normal(k[1], (30, 40)), jnp.arange(30) % 10
    batch = (jax.random.normal(k[2], (16, 40)), jnp.arange(16) % 10)
    exact = _weigh(model, x_val, y_val)
    w = np.asarray(exact(params, _ones(params), batch, k[3]))
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0, abs=1e-5) and (w == 0).any() and (w > 0).any()
    np.testing.assert_allclose(np.asarray(jax.jit(exact)(params, _ones(params), batch, k[3])), w, atol=1e-6)
    fwd = _weigh(model, x_val, y_val, "forward")
    np.testing.assert_allclose(np.asarray(fwd(params, _ones(params), batch, k[3])), w, atol=1e-6)


def test_padded_width_gets_the_real_widths_weights():
    k = jax.random.split(jax.random.key(1), 3)
    x_val, y_val = jax.random.normal(k[0], (20, 40)), jnp.arange(20) % 10
    batch = (jax.random.normal(k[1], (12, 40)), jnp.arange(12) % 10)
    params, mask = init_padded("mlp", 5, 11, k[2][None])
    params, mask = jax.tree.map(lambda a: a[0], params), jax.tree.map(lambda a: a[0], mask)
    real = init_params(width_model("mlp", 5), k[2])
    w_real = _weigh(width_model("mlp", 5), x_val, y_val)(real, _ones(real), batch, k[2])
    w_pad = _weigh(width_model("mlp", 11), x_val, y_val)(params, mask, batch, k[2])
    np.testing.assert_allclose(np.asarray(w_pad), np.asarray(w_real), atol=1e-6)


def test_uniform_weights_train_like_plain_training_and_runs_repeat():
    data = _Data()
    cfg = SweepConfig(learning_rate=0.05, epochs=3, batch_size=50)
    plain = sweep_widths("mlp", [3, 5], [0], data, cfg, buckets=[[3, 5]])
    uniform = sweep_widths("mlp", [3, 5], [0], data, cfg, buckets=[[3, 5]],
                           weigh=lambda p, m, batch, key: jnp.full(batch[1].shape, 1.0 / batch[1].shape[0]))
    for k in ("train_error", "test_error", "train_loss", "test_nll"):
        np.testing.assert_allclose(uniform[k], plain[k], rtol=1e-4, err_msg=k)
    np.testing.assert_allclose(uniform["example_weight"], 1 / 50)
    np.testing.assert_array_equal(uniform["example_kept"], 1.0)
    weigh = _weigh(width_model("mlp", 5), jnp.asarray(data.x_test[:20]), jnp.asarray(data.y_test[:20]))
    a, b = (sweep_widths("mlp", [3, 5], [0, 1], data, cfg, buckets=[[3, 5]], weigh=weigh) for _ in range(2))
    for k in ("test_error", "example_weight"):
        np.testing.assert_array_equal(a[k], b[k])
    assert a["example_weight"].shape == (2, 2, 200) and not np.allclose(a["example_weight"], 1 / 50)


def test_summaries_and_config_rules():
    assert peak_index([[50.0], [40.0], [45.0], [52.0], [41.0]]) == 3
    weights = np.array([[[0.1, 0.0, 0.3, 0.2]]])
    np.testing.assert_allclose(noisy_share(weights, np.array([False, True, False, False]), 0.5), [[0.5]])
    with pytest.raises(ConfigError, match="widths"):
        study.ReweightConfig(widths=(8, 4))


# ----------------------------------------------------------------------------------------------------------------
# Meta-Weight-Net and meta-gradient cleaning
def _mw_setup(width=6, seed=0):
    k = jax.random.split(jax.random.key(seed), 5)
    model = width_model("mlp", width)
    params = init_params(model, k[0])
    x_val, y_val = jax.random.normal(k[1], (30, 40)), jnp.arange(30) % 10
    batch = (jax.random.normal(k[2], (16, 40)), jnp.arange(16) % 10)
    return model, params, x_val, y_val, batch, k[3], k[4]


def test_mwnet_weights_are_a_distribution_of_the_right_shape_and_jit_equals_eager():
    model, params, x_val, y_val, batch, k_init, k_step = _mw_setup()
    weigher = make_mwnet(model, 0.01, x_val, y_val, 1e-3)
    state = weigher.init(k_init)
    assert state[0]["hidden"]["kernel"].shape == (1, 100) and state[0]["out"]["kernel"].shape == (100, 1)
    raw = MWNet().apply({"params": state[0]}, jnp.linspace(0.0, 20.0, 50)[:, None])
    assert raw.shape == (50, 1) and float(raw.min()) > 0 and float(raw.max()) < 1
    new, w = weigher.weigh(state, params, _ones(params), batch, k_step)
    w = np.asarray(w)
    assert w.shape == (16,) and w.min() > 0 and w.max() <= 1 and w.sum() == pytest.approx(1.0, abs=1e-5)
    new_j, w_j = jax.jit(weigher.weigh)(state, params, _ones(params), batch, k_step)
    np.testing.assert_allclose(np.asarray(w_j), w, atol=1e-6)
    _close(new_j, new, atol=1e-6)
    assert not np.allclose(np.asarray(new[0]["hidden"]["kernel"]), np.asarray(state[0]["hidden"]["kernel"]))


def test_mwnet_meta_gradient_is_the_look_ahead_gradient():
    """The estimator's gradient equals jax.grad of the clean loss after one hand-written weighted SGD step."""
    model, params, x_val, y_val, (x, y), k_init, k_step = _mw_setup(seed=3)
    theta = MWNet().init(k_init, jnp.zeros((1, 1)))["params"]

    def val_after(theta):
        def weighted(p):
            losses = per_example_nll(model.apply({"params": p}, x), y)
            return jnp.sum(mwnet_weights(theta, losses) * losses)
        ahead = jax.tree.map(lambda p, g: p - 0.05 * g, params, jax.grad(weighted)(params))
        return jnp.mean(per_example_nll(model.apply({"params": ahead}, x_val), y_val))

    est = meta.exact(mwnet_problem(model, 0.05, x_val, y_val), checkpoint=False)
    (value, _), grad, _ = est.grad(theta, (), k_step, {"params": params, "mask": _ones(params), "x": x, "y": y})
    assert float(value) == pytest.approx(float(val_after(theta)), rel=1e-5)
    _close(grad, jax.grad(val_after)(theta), rtol=1e-4, atol=1e-9)


def test_mwnet_runs_repeat_and_each_run_has_its_own_net():
    data = _Data()
    cfg = SweepConfig(learning_rate=0.05, epochs=2, batch_size=50)
    weigher = make_mwnet(width_model("mlp", 5), 0.05, jnp.asarray(data.x_test[:20]), jnp.asarray(data.y_test[:20]),
                         1e-2)
    a, b = (sweep_widths("mlp", [3, 5], [0, 1], data, cfg, buckets=[[3, 5]], weigh=weigher) for _ in range(2))
    for k in ("test_error", "example_weight"):
        np.testing.assert_array_equal(a[k], b[k])
    w = a["example_weight"] * 50  # (W, S, N): mean weight x batch size, near 1, different per run
    assert w.shape == (2, 2, 200) and np.all(w > 0) and not np.allclose(w, 1.0)
    assert not np.allclose(w[0, 0], w[0, 1])


def test_pruning_drops_the_least_often_kept():
    kept = np.array([[[0.9, 0.1, 0.5, 0.1]], [[0.7, 0.3, 0.5, 0.0]]])  # (W=2, S=1, N=4)
    order = prune_order(kept)
    np.testing.assert_array_equal(order, [3, 1, 2, 0])
    train = _Data(n=4)
    np.testing.assert_array_equal(pruned(train, order, 0.5), [True, False, True, False])
    np.testing.assert_array_equal(pruned(train, order, 0.0), [True] * 4)
