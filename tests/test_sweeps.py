"""Width sweeps: a padded width trains exactly like the real one; true fan-in init; buckets; shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.core.sweeps import (
    SweepConfig,
    bucket_widths,
    cost_fn,
    default_cnn_channels,
    default_mlp_widths,
    init_padded,
    sweep_widths,
    width_at_params,
)
from mnist1d_jax.nn.init import init_params
from mnist1d_jax.nn.models import width_model, width_model_params


class _Data:
    def __init__(self, n=200, n_test=100, seed=0):
        rng = np.random.default_rng(seed)
        self.x = rng.normal(size=(n, 40)).astype(np.float32)
        self.x_test = rng.normal(size=(n_test, 40)).astype(np.float32)
        # learnable labels: which of the first ten inputs is largest
        self.y, self.y_test = (np.argmax(a[:, :10], 1).astype(np.int32) for a in (self.x, self.x_test))


@pytest.mark.parametrize("model,width,padded,loss", [("mlp", 5, 13, "nll"), ("cnn", 3, 7, "mse")])
def test_padded_width_trains_exactly_like_the_real_model(model, width, padded, loss):
    data = _Data()
    cfg = SweepConfig(learning_rate=0.05, epochs=10, batch_size=50, loss=loss)
    alone = sweep_widths(model, [width], [0], data, cfg, buckets=[[width]])
    padded_run = sweep_widths(model, [width, padded], [0], data, cfg, buckets=[[width, padded]])
    for k in ("train_loss", "test_loss", "train_error", "test_error", "test_nll"):
        np.testing.assert_allclose(padded_run[k][0], alone[k][0], rtol=1e-5, err_msg=k)


def test_init_at_true_fan_in_and_zero_padding():
    keys = jnp.stack([jax.random.key(s) for s in (3, 4)])
    params, mask = init_padded("mlp", 9, 30, keys)
    k1 = np.asarray(params["Dense_1"]["kernel"])
    assert k1.shape == (2, 30, 30)
    assert np.abs(k1[:, :9, :9]).max() <= 1 / 3 and np.abs(k1[:, :9, :9]).max() > 0.25  # bound 1/sqrt(9)
    assert not k1[:, 9:].any() and not k1[:, :, 9:].any()
    assert np.asarray(mask["Dense_1"]["kernel"]).sum() == 2 * 81
    params, mask = init_padded("cnn", 4, 6, keys)
    head = np.asarray(params["Dense_0"]["kernel"])
    assert head.shape == (2, 30, 10) and not head[:, 20:].any() and np.abs(head[:, :20]).max() <= 1 / np.sqrt(20)
    for i in range(2):  # the real model's own init, embedded: the same values bit for bit
        real = init_params(width_model("cnn", 4), keys[i])
        np.testing.assert_array_equal(head[i, :20], np.asarray(real["Dense_0"]["kernel"]))


def test_buckets_and_paper_grids():
    widths = default_mlp_widths()
    assert widths == [2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177, 230, 300]
    assert len(default_cnn_channels()) == 29
    groups = bucket_widths(widths, cost_fn("mlp"), max_buckets=5)
    assert 1 < len(groups) <= 5 and sum(groups, []) == widths
    padded_cost = sum(len(g) * cost_fn("mlp")(max(g)) for g in groups)
    assert padded_cost < 0.5 * len(widths) * cost_fn("mlp")(300)  # far cheaper than padding all to 300
    assert width_model_params("mlp", 47) == 4663 and width_model_params("cnn", 18) == 2998
    # one seed on two devices: a lone width would leave a core repeating its run, so widths pair up
    alone = bucket_widths([100, 200], cost_fn("mlp"), max_buckets=2, overhead=0.0)
    paired = bucket_widths([100, 200], cost_fn("mlp"), max_buckets=2, overhead=0.0, runs_per_width=1, devices=2)
    assert alone == [[100], [200]] and paired == [[100, 200]]
    assert abs(width_at_params("mlp", width_model_params("mlp", 177)) - 177) < 1e-6


def test_sweep_shapes_two_widths_two_seeds():
    res = sweep_widths("mlp", [3, 8], [0, 1], _Data(), SweepConfig(epochs=1, batch_size=50), max_buckets=1)
    assert res["test_error"].shape == (2, 2) and res["params"] == [175, 490]
    assert not np.array_equal(res["test_loss"][:, 0], res["test_loss"][:, 1])  # seeds differ


def test_label_axis_and_epoch_curves_equal_separate_sweeps():
    """A (width, labels, seed) grid with epoch-wise evaluation: each label set's runs equal a plain sweep on
    those labels, and the last evaluated epoch equals the one end-of-run evaluation."""
    data = _Data()
    noisy = data.y.copy()
    noisy[::3] = (noisy[::3] + 1) % 10
    config = SweepConfig(epochs=3, batch_size=50, eval_epochs=(1, 3))
    grid = sweep_widths("mlp", [3, 8], [0, 1], data, config, labels=np.stack([data.y, noisy]), max_buckets=1)
    assert grid["test_error"].shape == (2, 2, 2, 2) and grid["eval_epochs"] == [1, 3]  # (W, L, S, K)
    final = SweepConfig(epochs=3, batch_size=50)
    for i, y in enumerate([data.y, noisy]):
        data.y = y
        alone = sweep_widths("mlp", [3, 8], [0, 1], data, final, max_buckets=1)
        np.testing.assert_allclose(grid["test_loss"][:, i, :, -1], alone["test_loss"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(grid["train_error"][:, i, :, -1], alone["train_error"], atol=1e-4)
    assert not np.allclose(grid["train_loss"][:, 0], grid["train_loss"][:, 1])  # the label sets differ
    assert not np.allclose(grid["test_loss"][..., 0], grid["test_loss"][..., 1])  # epochs 1 and 3 differ
    with pytest.raises(ValueError, match="labels must be \\(L, 200\\)"):
        sweep_widths("mlp", [3], [0], data, final, labels=data.y)
    from mnist1d_jax.runtime.validation import ConfigError

    with pytest.raises(ConfigError, match="eval_epochs"):
        SweepConfig(epochs=3, eval_epochs=(2, 5))


def test_bad_sweeps_are_refused():
    from mnist1d_jax.runtime.validation import ConfigError

    with pytest.raises(ConfigError, match="SweepConfig.epochs=0"):
        SweepConfig(epochs=0)
    with pytest.raises(ValueError, match="widths=\\[3, 3\\] must be distinct integers >= 1"):
        sweep_widths("mlp", [3, 3], [0], _Data())
    with pytest.raises(ValueError, match="seeds=\\[\\] must be distinct"):
        sweep_widths("mlp", [3], [], _Data())
    with pytest.raises(ValueError, match="batch_size=500 exceeds the 200 training examples"):
        sweep_widths("mlp", [3], [0], _Data(), SweepConfig(batch_size=500))


def test_accelerator_bucket_plans_put_latency_bound_widths_in_few_large_buckets():
    from mnist1d_jax.runtime import backend

    widths = [1, 2, 3, 4, 5, 6, 8, 10, 14, 20, 30, 50, 70, 100]
    cpu = bucket_widths(widths, cost_fn("cnn"), 8, 0.02, runs_per_width=3, devices=2)
    assert bucket_widths(widths, cost_fn("cnn"), 8, 0.02, runs_per_width=3, devices=2, floor=0.0) == cpu
    assert len(cpu) > 3  # on a CPU time follows work: padding the small widths to 100 would waste most of it
    # below the floor a step costs the same, so padding is free: one program for all widths
    assert bucket_widths(widths, cost_fn("cnn"), 8, 0.02, runs_per_width=3, devices=8, floor=1e7) == [widths]
    assert backend.bucket_plan() == {} if backend.on_cpu() else backend.bucket_plan()["floor"] > 0
