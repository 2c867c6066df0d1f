"""The one init: the values of jax.random.uniform, at any compiler optimisation level, inside any program."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.nn.init import count_params, dense_params, init_params, torch_bound, uniform, uniform_init
from mnist1d_jax.nn.models import get_model

OPT_LEVEL_2 = {"xla_backend_optimization_level": 2}  # XLA's default (tests/conftest.py lowers it to 0)


@pytest.mark.parametrize("shape,fan_in", [((300, 200), 3), ((1000,), 47), ((64, 33), 1), ((17, 5, 3), 300),
                                          ((25, 1, 5), 5), ((10,), 125)])
def test_uniform_equals_jax_uniform_draw_for_draw(shape, fan_in):
    key = jax.random.key(fan_in)
    bound = torch_bound(fan_in)

    def reference(k):
        return jax.random.uniform(k, shape, jnp.float32, -bound, bound)

    ref = np.asarray(jax.jit(reference).lower(key).compile(OPT_LEVEL_2)(key))  # the level every study runs at
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda k: uniform(k, shape, bound))(key)), ref)
    # ... and at the suite's level 0, where XLA does not fuse jax.random.uniform's multiply-add: ours is exact
    np.testing.assert_array_equal(np.asarray(uniform(key, shape, bound)), ref)


def test_bounds_are_used_and_respected():
    bound = torch_bound(75)
    w = np.asarray(uniform_init(bound)(jax.random.key(0), (10000,)))
    assert np.abs(w).max() <= np.float32(bound) and np.abs(w).max() > 0.99 * bound and w.min() < 0 < w.max()


def test_dense_params_and_the_init_of_every_model_kind():
    d = dense_params(jax.random.key(0), 40, 50)
    assert d["w"].shape == (40, 50) and d["b"].shape == (50,)
    assert float(jnp.abs(d["w"]).max()) <= 1 / np.sqrt(40)
    p = init_params(get_model("cnn"), jax.random.key(0))
    for name, fan_in in [("Conv1dCLB_0", 5), ("Conv1dCLB_1", 75), ("Conv1dCLB_2", 75), ("Dense_0", 125)]:
        for leaf in p[name].values():
            top = float(jnp.abs(leaf).max())
            assert top <= 1 / np.sqrt(fan_in) + 1e-7
            assert leaf.size < 100 or top > 0.9 / np.sqrt(fan_in)  # the range is used (large leaves)
    g = init_params(get_model("gru"), jax.random.key(0))
    for name in ("w_i", "w_h", "b_i", "b_h"):
        assert float(jnp.abs(g[name]).max()) <= 1 / np.sqrt(6) + 1e-7


def test_init_is_pure_vmappable_and_works_inside_a_users_jit():
    model = get_model("mlp", width=16)
    keys = jax.random.split(jax.random.key(3), 4)
    many = jax.jit(jax.vmap(lambda k: init_params(model, k)))(keys)
    assert count_params(jax.tree.map(lambda a: a[0], many)) == 16 * 40 + 16 + 16 * 16 + 16 + 16 * 10 + 10
    for i, key in enumerate(keys):
        for a, b in zip(jax.tree.leaves(many), jax.tree.leaves(init_params(model, key)), strict=True):
            np.testing.assert_array_equal(np.asarray(a)[i], np.asarray(b))
    assert not np.allclose(many["Dense_0"]["kernel"][0], many["Dense_0"]["kernel"][1])
