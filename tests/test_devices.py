"""Splitting the run axis of many-seed calls over devices (the suite runs with two CPU devices, conftest.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.backend import use_cpu_cores
from mnist1d_jax.core.parallel import seed_sharding, spread_leading, take_leading


def test_suite_has_two_cpu_devices():
    assert len(jax.devices()) == 2


@pytest.mark.parametrize("n, padded", [(1, 1), (2, 2), (3, 4), (5, 6)])
def test_spread_pads_to_a_multiple_of_the_devices_and_take_undoes_it(n, padded):
    tree = {"a": jnp.arange(n * 3.0).reshape(n, 3), "k": jax.random.split(jax.random.key(0), n)}
    spread, count = spread_leading(tree)
    assert count == n and spread["a"].shape == (padded, 3) and spread["k"].shape == (padded,)
    np.testing.assert_array_equal(spread["a"][n:], np.repeat(np.asarray(tree["a"][-1:]), padded - n, axis=0))
    if padded > 1:
        assert len(spread["a"].sharding.device_set) == 2
    doubled = jax.jit(jax.vmap(lambda r: r["a"] * 2))(spread)
    np.testing.assert_array_equal(take_leading(doubled, n), np.asarray(tree["a"]) * 2)
    assert seed_sharding(n)[1] == padded


def test_spread_rejects_mismatched_leading_axes():
    with pytest.raises(ValueError, match="same leading axis"):
        spread_leading({"a": jnp.zeros((3, 2)), "b": jnp.zeros((4,))})
    with pytest.raises(ValueError, match="at least one array"):
        spread_leading({})


def test_use_cpu_cores_validates_and_is_strict_only_on_request(monkeypatch):
    jax.devices()  # backends are initialised from here on: the count cannot change any more
    assert use_cpu_cores(4) == 2  # default: the count in effect, unchanged
    with pytest.raises(RuntimeError, match="before backends are initialized"):
        use_cpu_cores(4, strict=True)
    with pytest.raises(ValueError, match=">= 1"):
        use_cpu_cores(0)
    monkeypatch.setenv("MNIST1D_JAX_CPU_DEVICES", "two")
    with pytest.raises(ValueError, match="not an integer"):
        use_cpu_cores()


def test_a_pinned_device_keeps_its_runs_and_parallel_jobs_do_not_deadlock():
    from mnist1d_jax.studies.lottery import run_parallel

    with jax.default_device(jax.devices()[1]):
        assert seed_sharding(4) == (None, 4)
    double = jax.jit(jax.vmap(lambda a: a * 2))

    def job(n):
        def run():
            spread, count = spread_leading(jnp.arange(float(n)))
            return np.asarray(take_leading(double(spread), count))
        return run

    # Two threads launching split programs on the same two devices could deadlock on their collectives;
    # run_parallel pins each job to its own device, so neither splits.
    outs = run_parallel([job(3), job(5)] * 2, workers=2)
    for out, n in zip(outs, [3, 5, 3, 5], strict=True):
        np.testing.assert_array_equal(out, 2 * np.arange(n))
