"""The GRU recurrence: equal to a step-by-step PyTorch-form reference in values, reverse mode, forward mode and
second order.

Every test runs under the float32 matmul precision policy (exact on a GPU or TPU too) and states its tolerance in
the policy's terms, ``TOL = precision.tolerance("float32")``: ``10 * TOL`` for the values and gradients (40
recurrent steps of products), ``100 * TOL`` for second order."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.nn.models import BiGRU, init_params
from mnist1d_jax.runtime.precision import tolerance, use_precision

TOL = tolerance("float32")


@pytest.fixture(autouse=True)
def full_float32():
    """The reference is full float32: so is everything compared with it, on every backend."""
    with use_precision("float32"):
        yield


@pytest.fixture(scope="module")
def x():
    return jax.random.normal(jax.random.key(1), (7, 40))


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
    np.testing.assert_allclose(ours, jax.jit(_gru_reference)(params, x), rtol=10 * TOL, atol=TOL)


def test_gru_reverse_mode_matches_autodiff_of_the_reference(x):
    """The recurrence's derivative rule, transposed, equals autodiff of the step-by-step reference."""
    model = BiGRU()
    params = jax.jit(init_params, static_argnums=0)(model, jax.random.key(4))
    y = jnp.arange(x.shape[0]) % 10

    def loss(apply):
        return lambda p: -jnp.mean(jax.nn.log_softmax(apply(p, x))[jnp.arange(x.shape[0]), y])

    ours = jax.jit(jax.grad(loss(lambda p, x: model.apply({"params": p}, x))))(params)
    ref = jax.jit(jax.grad(loss(_gru_reference)))(params)
    for a, b in zip(jax.tree_util.tree_leaves(ours), jax.tree_util.tree_leaves(ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=10 * TOL, atol=TOL / 10)


def test_gru_forward_mode_and_second_order_match_the_reference(x):
    """jax.jvp works (the rule is a JVP) and so does a Hessian-vector product, equal to the reference's."""
    model = BiGRU()
    params = jax.jit(init_params, static_argnums=0)(model, jax.random.key(5))
    tangent = jax.tree.map(jnp.ones_like, params)

    def loss(apply):
        return lambda p: jnp.sum(jnp.tanh(apply(p, x)))

    @jax.jit
    def both(params):
        def pair(apply):
            f = loss(apply)
            return jax.jvp(f, (params,), (tangent,))[1], jax.grad(lambda p: jax.jvp(f, (p,), (tangent,))[1])(params)
        return pair(lambda p, x: model.apply({"params": p}, x)), pair(_gru_reference)

    (t, hv), (t_ref, hv_ref) = both(params)
    np.testing.assert_allclose(t, t_ref, rtol=10 * TOL, atol=TOL)
    for a, b in zip(jax.tree.leaves(hv), jax.tree.leaves(hv_ref), strict=True):
        np.testing.assert_allclose(a, b, rtol=100 * TOL, atol=TOL)
