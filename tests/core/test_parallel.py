"""Splitting the run axis of many-seed calls over devices (on the CPU the suite has two devices, conftest.py;
on an accelerator host as many as it has: the expectations follow the device count)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.core.parallel import constrain_runs, pad_runs, run_sharding, spread_leading, take_leading

DEVICES = jax.device_count()
several = pytest.mark.skipif(DEVICES < 2, reason="needs at least two devices")


def _padded(n: int) -> int:
    used = min(n, DEVICES)
    return -(-n // used) * used


@pytest.mark.parametrize("n, padded_on_two", [(1, 1), (2, 2), (3, 4), (5, 6)])
def test_spread_pads_to_a_multiple_of_the_devices_and_take_undoes_it(n, padded_on_two):
    padded = _padded(n)
    assert DEVICES != 2 or padded == padded_on_two
    tree = {"a": jnp.arange(n * 3.0).reshape(n, 3), "k": jax.random.split(jax.random.key(0), n)}
    spread, count = spread_leading(tree)
    assert count == n and spread["a"].shape == (padded, 3) and spread["k"].shape == (padded,)
    np.testing.assert_array_equal(spread["a"][n:], np.repeat(np.asarray(tree["a"][-1:]), padded - n, axis=0))
    if padded > 1:
        assert len(spread["a"].sharding.device_set) == min(n, DEVICES)
    doubled = jax.jit(jax.vmap(lambda r: r["a"] * 2))(spread)
    np.testing.assert_array_equal(take_leading(doubled, n), np.asarray(tree["a"]) * 2)
    assert run_sharding(n)[1] == padded


def test_spread_rejects_mismatched_leading_axes():
    with pytest.raises(ValueError, match="same leading axis"):
        spread_leading({"a": jnp.zeros((3, 2)), "b": jnp.zeros((4,))})
    with pytest.raises(ValueError, match="at least one array"):
        spread_leading({})


def test_runs_made_inside_a_program_are_padded_and_split_there():
    sharding, padded = run_sharding(3)

    @jax.jit
    def program(x):
        runs = jnp.stack([x, 2 * x, 3 * x])  # a run axis made in the program (e.g. initial weights)
        return constrain_runs(pad_runs(runs, padded), sharding) + 1

    out = program(jnp.ones(4))
    assert out.shape == (padded, 4) and len(out.sharding.device_set) == min(3, DEVICES)
    np.testing.assert_array_equal(np.asarray(out)[:, 0], [2, 3, 4, 4, 4, 4][:padded])


@several
def test_a_pinned_device_keeps_its_runs_unsplit():
    with jax.default_device(jax.devices()[1]):
        assert run_sharding(4) == (None, 4)
