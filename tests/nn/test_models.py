"""The model zoo: parameter counts and shapes, jit equals eager, every study's variants."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.core import masks as M
from mnist1d_jax.nn.models import MLP, ContrastiveCNN, count_params, get_model, init_params, width_model

PAPER_COUNTS = {"logistic": 410, "mlp": 15_210, "cnn": 5_210, "gru": 5_134}
BEYOND_COUNTS = {"rescnn": 12_160, "tcn": 5_754, "dilated_cnn": 8_826}  # the optimiser benchmark's extra models


@pytest.fixture(scope="module")
def x():
    return jax.random.normal(jax.random.key(1), (7, 40))


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS | BEYOND_COUNTS))
def test_parameter_counts_and_shapes(name, x):
    model = get_model(name)
    params = jax.eval_shape(lambda: init_params(model, jax.random.key(0)))
    assert count_params(params) == (PAPER_COUNTS | BEYOND_COUNTS)[name]
    assert jax.eval_shape(model.apply, {"params": params}, x).shape == (7, 10)


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS | BEYOND_COUNTS))
def test_jit_equals_eager(name, x):
    model = get_model(name)
    params = jax.jit(init_params, static_argnums=0)(model, jax.random.key(0))
    eager = model.apply({"params": params}, x)
    jitted = jax.jit(model.apply)({"params": params}, x)
    np.testing.assert_allclose(eager, jitted, rtol=1e-5, atol=1e-5)


def test_study_variants_counts():
    counts = {
        "lottery MLP (width 500)": (get_model("mlp", width=500), 276_010),
        "double-descent MLP n=47": (get_model("mlp", width=47, residual=False), 47**2 + 52 * 47 + 10),
        "double-descent CNN c=18": (get_model("cnn", channels=(18, 18, 18)), 6 * 18**2 + 58 * 18 + 10),
        "pooling no_pool": (get_model("cnn", channels=(20, 20), kernel_sizes=(3, 3), strides=(1, 1)), 9_310),
        "pooling stride_2": (get_model("cnn", channels=(20, 20), kernel_sizes=(3, 3), strides=(2, 2)), 3_310),
        "pooling l2": (get_model("cnn", channels=(20, 20), kernel_sizes=(3, 3), strides=(1, 1), pool="l2"), 3_310),
        "SSL encoder (no projector)": (get_model("cnn", kernel_sizes=(5, 3, 3), head=False), 3_950),
    }
    for what, (model, expected) in counts.items():  # shapes only: jax.eval_shape runs no computation
        shapes = jax.eval_shape(lambda m=model: init_params(m, jax.random.key(0)))
        assert count_params(shapes) == expected, what


@pytest.mark.parametrize("pool", ["l2"])  # the one with a singular derivative (sqrt at 0)
def test_pooling_gradients_finite(pool, x):
    model = get_model("cnn", channels=(4, 4), kernel_sizes=(3, 3), strides=(1, 1), pool=pool)
    params = jax.jit(init_params, static_argnums=0)(model, jax.random.key(0))
    # Zero the first conv so every ReLU output is exactly 0: the L2 pool must still give finite gradients.
    params["Conv1dCLB_0"] = {k: jnp.zeros_like(v) for k, v in params["Conv1dCLB_0"].items()}
    g = jax.jit(jax.grad(lambda p: model.apply({"params": p}, x).sum()))(params)
    assert all(bool(jnp.isfinite(leaf).all()) for leaf in jax.tree_util.tree_leaves(g))


def test_width_models_and_the_contrastive_net(x):
    assert count_params(jax.eval_shape(lambda: init_params(width_model("mlp", 47), jax.random.key(0)))) == 4_663
    assert count_params(jax.eval_shape(lambda: init_params(width_model("cnn", 18), jax.random.key(0)))) == 2_998
    net = ContrastiveCNN(hidden=1)
    params = init_params(net, jax.random.key(0))
    layers = net.apply({"params": params}, x)
    assert [a.shape for a in layers] == [(7, 475), (7, 250), (7, 125), (7, 125), (7, 16)]
    assert len(ContrastiveCNN(hidden=0).apply({"params": init_params(ContrastiveCNN(hidden=0), jax.random.key(0))},
                                               x)) == 3


def test_compacted_residual_mlp_is_the_full_model_on_the_units_a_mask_keeps(x):
    """MLP(width=nV, residual_outputs=n_out) on compacted parameters computes the full residual MLP on the
    masked parameters exactly (up to float summation order)."""
    width = 32
    full = MLP(width=width)
    params = init_params(full, jax.random.key(5))
    mask = M.prune(params, 0.8)
    units, n_out = M.compact_layout([mask], width, granularity=4)
    units = jnp.asarray(units[0])
    compact_params = M.compact_residual(M.apply_mask(params, mask), units, n_out)
    small = MLP(width=int(units.shape[0]), residual_outputs=n_out)
    np.testing.assert_allclose(small.apply({"params": compact_params}, x),
                               full.apply({"params": M.apply_mask(params, mask)}, x), rtol=1e-5, atol=1e-6)


def test_tcn_is_causal_and_its_last_step_sees_the_whole_signal(x):
    """Inside the TCN, step t of every convolution depends on inputs <= t only; the read-out (the last step)
    on every input."""
    from mnist1d_jax.nn.models import TCN

    model = TCN()
    params = init_params(model, jax.random.key(0))
    grads = jax.jacrev(lambda v: model.apply({"params": params}, v[None])[0])(x[0])  # (10, 40)
    assert np.all(np.abs(np.asarray(grads)).max(0) > 0)  # every input reaches the read-out

    def convs(v):
        _, state = model.apply({"params": params}, v, capture_intermediates=True, mutable=["intermediates"])
        return [leaf for leaf in jax.tree.leaves(state["intermediates"]) if leaf.ndim == 3]  # (C, L, B) each

    future = x.at[:, 25:].add(1.0)  # change only steps 25..39
    for a, b in zip(convs(x), convs(future), strict=True):
        np.testing.assert_array_equal(a[:, :25], b[:, :25])  # the past never sees the future
        assert not np.allclose(a[:, 25:], b[:, 25:])
