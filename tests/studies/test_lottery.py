"""The lottery study: a tiny run end to end, resume, compacted training equals full training, config rules."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.core import masks as M
from mnist1d_jax.nn.init import init_params
from mnist1d_jax.nn.models import MLP
from mnist1d_jax.runtime.validation import ConfigError
from mnist1d_jax.studies import lottery


def test_tiny_run_and_resume(run_quick, tmp_path):
    record, saved = run_quick("lottery")
    assert saved["rounds"] == [0, 50, 91]
    assert set(saved["ablations"]["conditions"]) == {"baseline", "flipped", "shuffled", "reinit"}
    dens = saved["reference_density"]["lottery_trial0"]
    assert abs(dens["Dense_1"] - (1 - 91 / 99)) < 0.01
    p2 = saved["adjacency"]["lottery"]["p2"]["mean"]
    first = saved["arrays"]["first_layer_lottery_trial0"]
    assert first.shape == (32, 40) and p2 == pytest.approx(M.adjacency(first)["p2"]["mean"])
    for name in ("lottery.png", "lottery_masks.png"):
        assert (tmp_path / "lottery" / name).stat().st_size > 10_000
    again, _ = run_quick("lottery")  # the search and every ablation job come back from the store
    np.testing.assert_equal(again["final"], record["final"])
    assert again["runtime_this_process_s"] < record["runtime_s"]  # resumed: this process did little


def test_compacted_training_matches_full_training():
    width = 24
    p = init_params(MLP(width=width), jax.random.key(1))
    mask = M.magnitude_mask(p, M.prune_counts(0.9, p))
    mask["Dense_2"]["kernel"] = mask["Dense_2"]["kernel"].at[:8].set(0)
    units, n_out = M.compact_layout([mask], width, granularity=4)
    rng = np.random.default_rng(0)
    x, x_test = (jnp.asarray(rng.normal(size=(n, 40)), jnp.float32) for n in (200, 100))
    y, y_test = (jnp.asarray(rng.integers(0, 10, n), jnp.int32) for n in (200, 100))
    kw = dict(lr=0.02, batch=50, total_steps=31, eval_every=10, snapshot_step=20)
    full = lottery.harness_run(p, mask, x, y, x_test, y_test, n_out=width, **kw)
    comp = lottery.harness_run(M.compact_residual(p, units[0], n_out), M.compact_residual(mask, units[0], n_out),
                               x, y, x_test, y_test, n_out=n_out, **kw)
    np.testing.assert_allclose(comp["test_loss"], full["test_loss"], rtol=1e-5)
    assert comp["test_acc"].shape == (4,) and float(comp["train_acc"]) == pytest.approx(float(full["train_acc"]))
    snap = M.expand_residual(comp["snapshot"], p, units[0], n_out)
    for a, b in zip(jax.tree.leaves(M.apply_mask(snap, mask)), jax.tree.leaves(M.apply_mask(full["snapshot"], mask)),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_rounds_must_hold_the_reference_ticket():
    with pytest.raises(ConfigError, match="reference round 91"):
        lottery.LotteryConfig(rounds=(5, 10))
    with pytest.raises(ConfigError, match="n_schedule - 1 = 99"):
        lottery.LotteryConfig(rounds=(0, 91, 150))
    with pytest.raises(ConfigError, match="ablation_steps"):
        lottery.LotteryConfig(ablation_steps=0)
