"""Parameter counts, shapes, initialisation, jit equals eager, and the GRU against a step-by-step reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.nn.models import BiGRU, count_params, get_model, init_params, init_params_many

OPT_LEVEL_2 = {"xla_backend_optimization_level": 2}  # XLA's default (tests/conftest.py lowers it to 0)
PAPER_COUNTS = {"logistic": 410, "mlp": 15_210, "cnn": 5_210, "gru": 5_134}


@pytest.fixture(scope="module")
def x():
    return jax.random.normal(jax.random.key(1), (7, 40))


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_parameter_counts_and_shapes(name, x):
    model = get_model(name)
    params = jax.eval_shape(lambda: init_params(model, jax.random.key(0)))
    assert count_params(params) == PAPER_COUNTS[name]
    assert jax.eval_shape(model.apply, {"params": params}, x).shape == (7, 10)


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
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


def test_torch_init_bounds():
    p = jax.jit(init_params, static_argnums=0)(get_model("cnn"), jax.random.key(0))
    for name, fan_in in [("Conv1dCLB_0", 5), ("Conv1dCLB_1", 75), ("Conv1dCLB_2", 75), ("Dense_0", 125)]:
        for leaf in p[name].values():
            assert float(jnp.abs(leaf).max()) <= 1 / np.sqrt(fan_in) + 1e-7
    g = jax.jit(init_params, static_argnums=0)(get_model("gru"), jax.random.key(0))
    for name in ("w_i", "w_h", "b_i", "b_h"):
        assert float(jnp.abs(g[name]).max()) <= 1 / np.sqrt(6) + 1e-7


@pytest.mark.parametrize("pool", ["l2"])  # the one with a singular derivative (sqrt at 0)
def test_pooling_gradients_finite(pool, x):
    model = get_model("cnn", channels=(4, 4), kernel_sizes=(3, 3), strides=(1, 1), pool=pool)
    params = jax.jit(init_params, static_argnums=0)(model, jax.random.key(0))
    # Zero the first conv so every ReLU output is exactly 0: the L2 pool must still give finite gradients.
    params["Conv1dCLB_0"] = {k: jnp.zeros_like(v) for k, v in params["Conv1dCLB_0"].items()}
    g = jax.jit(jax.grad(lambda p: model.apply({"params": p}, x).sum()))(params)
    assert all(bool(jnp.isfinite(leaf).all()) for leaf in jax.tree_util.tree_leaves(g))


def _gru_reference(p, x):
    """Straightforward per-direction PyTorch-form GRU, then the 480 -> 10 head."""
    hdim = 6
    outs = []
    for d, seq in ((0, x.T), (1, x.T[::-1])):

        def cell(h, xt, d=d):
            gi = xt[:, None] * p["w_i"][d] + p["b_i"][d]
            gh = h @ p["w_h"][d].T + p["b_h"][d]
            r = jax.nn.sigmoid(gi[:, :hdim] + gh[:, :hdim])
            z = jax.nn.sigmoid(gi[:, hdim:2 * hdim] + gh[:, hdim:2 * hdim])
            n = jnp.tanh(gi[:, 2 * hdim:] + r * gh[:, 2 * hdim:])
            h = (1 - z) * n + z * h
            return h, h

        # A scan, not a Python loop over the 40 steps: the same recurrence, compiled in seconds rather than a minute.
        _, hs = jax.lax.scan(cell, jnp.zeros((x.shape[0], hdim)), seq)
        hs = jnp.swapaxes(hs, 0, 1)  # (B, T, H)
        outs.append(hs if d == 0 else hs[:, ::-1])
    feats = jnp.concatenate(outs, -1).reshape(x.shape[0], -1)  # per step: forward then backward
    return feats @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]


def test_gru_matches_reference(x):
    model = BiGRU()
    params = jax.jit(init_params, static_argnums=0)(model, jax.random.key(3))
    ours = jax.jit(model.apply)({"params": params}, x)
    np.testing.assert_allclose(ours, jax.jit(_gru_reference)(params, x), rtol=1e-4, atol=1e-5)


def test_gru_hand_written_backward_matches_autodiff(x):
    """The custom VJP of the recurrence equals autodiff of the step-by-step reference, for every parameter."""
    model = BiGRU()
    params = jax.jit(init_params, static_argnums=0)(model, jax.random.key(4))
    y = jnp.arange(x.shape[0]) % 10

    def loss(apply):
        return lambda p: -jnp.mean(jax.nn.log_softmax(apply(p, x))[jnp.arange(x.shape[0]), y])

    ours = jax.jit(jax.grad(loss(lambda p, x: model.apply({"params": p}, x))))(params)
    ref = jax.jit(jax.grad(loss(_gru_reference)))(params)
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("model", [get_model("mlp", width=37, residual=False), get_model("cnn", channels=(6, 6, 6)),
                                   get_model("gru"), get_model("logistic"), get_model("mlp", width=60)],
                         ids=["dd-mlp", "dd-cnn", "gru", "logistic", "residual-mlp"])
def test_init_params_many_equals_init_params_bit_for_bit(model):
    # The quick setup program (bits in the program, an exact host conversion) must give the values of
    # init_params at XLA's default optimisation level, the level every study runs at (the test session runs at
    # level 0, where XLA does not fuse the draw's multiply-add: so the reference asks for level 2 explicitly).
    keys = jnp.stack([jax.random.key(s) for s in (0, 7)])
    many = init_params_many(model, keys)
    for i, key in enumerate(keys):
        reference = jax.jit(lambda k: init_params(model, k)).lower(key).compile(OPT_LEVEL_2)(key)
        for a, b in zip(jax.tree_util.tree_leaves(reference), jax.tree_util.tree_leaves(many), strict=True):
            np.testing.assert_array_equal(np.asarray(b)[i], np.asarray(a))


def test_host_uniform_conversion_equals_jax_uniform():
    # u * 2b - b in float64 then one rounding: the fused multiply-add XLA computes, draw for draw
    from mnist1d_jax.nn.layers import _bits_to_uniform

    for i, (shape, fan_in) in enumerate([((300, 200), 3), ((1000,), 47), ((64, 33), 1), ((17, 5, 3), 300)]):
        key = jax.random.key(100 + i)
        bound = 1 / np.sqrt(fan_in)
        def draw(k, shape=shape, bound=bound):
            return jax.random.uniform(k, shape, jnp.float32, -bound, bound)

        ref = np.asarray(jax.jit(draw).lower(key).compile(OPT_LEVEL_2)(key))
        np.testing.assert_array_equal(_bits_to_uniform(np.asarray(jax.random.bits(key, shape, jnp.uint32)), bound),
                                      ref)
