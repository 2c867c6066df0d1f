"""Both implementations of the convolution (CPU patches-times-matmul, XLA's elsewhere) equal a reference
convolution at full precision, in values, gradients, forward mode and second order.

Every test runs under the float32 matmul precision policy (so the comparisons are exact on a GPU or TPU too) and
states its tolerance in the policy's terms: ``TOL = precision.tolerance("float32")`` for values, ``10 * TOL`` for
derivatives (longer chains of products)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.nn import conv
from mnist1d_jax.nn.conv import conv1d, conv1d_clb, conv_out_length
from mnist1d_jax.runtime.precision import tolerance, use_precision

TOL = tolerance("float32")


@pytest.fixture(autouse=True)
def full_float32():
    """The references are full float32: so is everything compared with them, on every backend."""
    with use_precision("float32"):
        yield


def reference_conv(x, kernel, bias, stride, padding):
    """(B, L, C_in), (C_out, C_in, k) -> (B, L_out, C_out) with lax.conv_general_dilated."""
    out = jax.lax.conv_general_dilated(x, kernel, (stride,), [(padding, padding)],
                                       dimension_numbers=("NWC", "OIW", "NWC"),
                                       precision=jax.lax.Precision.HIGHEST)
    return out + bias


CASES = [  # (B, L, C_in, C_out, k, stride, padding)
    (4, 40, 1, 25, 5, 2, 1),  # the paper's conv1: 40 -> 19
    (3, 19, 25, 25, 3, 2, 1),  # conv2: 19 -> 10
    (2, 10, 25, 25, 3, 2, 1),  # conv3: 10 -> 5
    (2, 40, 3, 7, 3, 1, 1),  # stride 1 (pooling study)
    (5, 11, 2, 4, 4, 3, 0),  # no padding, odd stride
    (1, 8, 2, 3, 3, 1, 2),  # padding wider than needed
]


@pytest.mark.parametrize("case", CASES)
def test_conv_matches_lax_values_and_gradients(case):
    b, length, c_in, c_out, k, stride, pad = case
    kx, kw, kb, kg = jax.random.split(jax.random.key(sum(case)), 4)
    x = jax.random.normal(kx, (b, length, c_in))
    w = jax.random.normal(kw, (c_out, c_in, k))
    bias = jax.random.normal(kb, (c_out,))
    out_shape = (b, conv_out_length(length, k, stride, pad), c_out)
    g = jax.random.normal(kg, out_shape)  # a random cotangent: tests the full vector-Jacobian product

    @jax.jit  # one compilation per case (eager op-by-op dispatch is far slower on a small CPU)
    def both(x, w, bias):
        def vjp(conv):
            out, pullback = jax.vjp(lambda *a: conv(*a, stride, pad), x, w, bias)
            return out, pullback(g)
        return vjp(conv1d), vjp(reference_conv)

    (ours, grads_ours), (ref, grads_ref) = both(x, w, bias)
    assert ours.shape == ref.shape == out_shape
    np.testing.assert_allclose(ours, ref, rtol=TOL, atol=TOL)
    for a, r in zip(grads_ours, grads_ref, strict=True):
        np.testing.assert_allclose(a, r, rtol=10 * TOL, atol=10 * TOL)


def test_paper_lengths_and_not_same_padding():
    # Explicit padding 1 gives 19 for the first conv; Flax's 'SAME' would give 20 (the original pads by 1).
    assert [conv_out_length(40, 5, 2, 1), conv_out_length(19, 3, 2, 1), conv_out_length(10, 3, 2, 1)] == [19, 10, 5]
    h = jnp.ones((1, 40, 3))
    assert conv1d_clb(h, jnp.ones((25, 1, 5)), None, 2, 1).shape == (25, 19, 3)


def test_conv_under_jit_and_vmap():
    x = jax.random.normal(jax.random.key(0), (6, 2, 19, 4))  # 6 "seeds" of (C, L, B)
    w = jax.random.normal(jax.random.key(1), (6, 5, 2, 3))
    out = jax.jit(jax.vmap(lambda h, k: conv1d_clb(h, k, None, 2, 1)))(x, w)
    for i in range(6):
        np.testing.assert_allclose(out[i], conv1d_clb(x[i], w[i], None, 2, 1), rtol=TOL, atol=TOL)


def test_the_xla_implementation_equals_the_cpu_one():
    """The implementation used off the CPU (lax.conv_general_dilated in the channel-major layout) gives the
    CPU kernel's values and gradients; both are the same function of the same arguments."""
    h = jax.random.normal(jax.random.key(0), (5, 19, 7))
    w = jax.random.normal(jax.random.key(1), (4, 5, 3))
    b = jnp.arange(4.0)

    @jax.jit
    def both(h, w, b):
        def value_and_grads(impl):
            f = lambda h, w, b: jnp.sum(jnp.sin(impl(h, w, b, 2, 1)))  # noqa: E731
            return f(h, w, b), jax.grad(f, argnums=(0, 1, 2))(h, w, b)
        return value_and_grads(conv._conv_bias_cpu), value_and_grads(conv._conv_bias_xla)

    (v_cpu, g_cpu), (v_xla, g_xla) = both(h, w, b)
    np.testing.assert_allclose(v_cpu, v_xla, rtol=TOL)
    for a, r in zip(g_cpu, g_xla, strict=True):
        np.testing.assert_allclose(a, r, rtol=10 * TOL, atol=10 * TOL)


@pytest.mark.parametrize("c_in,k", [(1, 5), (4, 3)])  # the elementwise and the matmul forward kernels
def test_conv_forward_mode_and_second_order(c_in, k):
    """The custom_jvp convolution supports jvp and grad-of-grad, equal to the reference convolution's."""
    kx, kw, kt = jax.random.split(jax.random.key(c_in), 3)
    x = jax.random.normal(kx, (3, 12, c_in))
    w = jax.random.normal(kw, (5, c_in, k))
    tw = jax.random.normal(kt, w.shape)
    bias = jnp.zeros((5,))

    @jax.jit
    def both(x, w):
        def pair(conv):
            f = lambda w: jnp.sum(jnp.tanh(conv(x, w, bias, 2, 1)))  # noqa: E731
            return jax.jvp(f, (w,), (tw,))[1], jax.grad(lambda w: jnp.sum(jax.grad(f)(w) ** 2))(w)
        return pair(conv1d), pair(reference_conv)

    (t, gg), (t_ref, gg_ref) = both(x, w)
    np.testing.assert_allclose(t, t_ref, rtol=10 * TOL, atol=10 * TOL)
    np.testing.assert_allclose(gg, gg_ref, rtol=10 * TOL, atol=10 * TOL)


@pytest.mark.parametrize("c_in,k,dilation,pad", [(1, 3, 2, 2), (4, 3, 4, 4), (3, 2, 3, 0)])  # both CPU kernels
def test_dilated_conv_matches_lax_and_the_xla_implementation(c_in, k, dilation, pad):
    h = jax.random.normal(jax.random.key(dilation), (c_in, 23, 3))
    w = jax.random.normal(jax.random.key(k), (5, c_in, k))
    b = jnp.arange(5.0)
    length = conv_out_length(23, k, 1, pad, dilation)
    assert length == 23 + 2 * pad - dilation * (k - 1)

    @jax.jit
    def all_three(h, w, b):
        ref = jax.lax.conv_general_dilated(h, w, (1,), [(pad, pad)], rhs_dilation=(dilation,),
                                           dimension_numbers=("CWN", "OIW", "CWN"),
                                           precision=jax.lax.Precision.HIGHEST) + b[:, None, None]

        def grads(impl):
            return jax.grad(lambda h, w: jnp.sum(jnp.sin(impl(h, w, b, 1, pad, dilation))), argnums=(0, 1))(h, w)

        return (conv._conv_bias_cpu(h, w, b, 1, pad, dilation), conv._conv_bias_xla(h, w, b, 1, pad, dilation), ref,
                grads(conv._conv_bias_cpu), grads(conv._conv_bias_xla))

    cpu, xla, ref, g_cpu, g_xla = all_three(h, w, b)
    assert cpu.shape == (5, length, 3)
    np.testing.assert_allclose(cpu, ref, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(xla, ref, rtol=TOL, atol=TOL)
    for a, r in zip(g_cpu, g_xla, strict=True):
        np.testing.assert_allclose(a, r, rtol=10 * TOL, atol=10 * TOL)
