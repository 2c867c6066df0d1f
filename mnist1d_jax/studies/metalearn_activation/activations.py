"""The activation functions of the learned-activation study, elementwise on arrays of any shape.

The learned one is f(x) = ELU(x) + 0.2·g(x), g a scalar tanh MLP 1→H₁→…→1 (default 1→100→100→1; the notebook's
1→100→1 is ``g_hidden=(100,)``) whose hidden units may get the same (1, width) uniform noise as the inner
model's; `tabulated_activation` is its noise-free version as a Hermite interpolant with its own derivative (for
the transfer check). Beside it: the fixed baselines (`BASELINES`), the original's piecewise-linear fit and the
basis of our own fits with the same knots, and the cubic Hermite interpolant `hermite` used by the tabulated g.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from mnist1d_jax.nn.init import dense_params
from mnist1d_jax.runtime.precision import emulate


def dense_init(key, fan_in: int, fan_out: int) -> dict:
    """PyTorch's default Linear init (``nn.init.dense_params``): ``w [in, out]``, ``b [out]`` ~ U(±1/√fan_in)."""
    return dense_params(key, fan_in, fan_out)


def init_g(key, g_hidden: tuple[int, ...]) -> list[dict]:
    """g's parameters, PyTorch default init: first layer U(±1), later layers U(±1/√width)."""
    sizes = (1, *g_hidden, 1)
    keys = jax.random.split(key, len(sizes) - 1)
    return [dense_init(k, a, b) for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)]


def uniform_noise(key, width: int, scale: float) -> jax.Array:
    """The original's hidden noise ``scale·(2U−1)`` of shape (1, width): one vector for the whole batch."""
    return scale * (2.0 * jax.random.uniform(key, (1, width), jnp.float32) - 1.0)


def g_apply(gp: list[dict], x: jax.Array, key: jax.Array | None, noise: float) -> jax.Array:
    """g on every element of `x` (any shape). With a key, each hidden layer gets its (1, width) noise."""
    shape = x.shape
    h = x.reshape(-1, 1)
    keys = jax.random.split(key, len(gp) - 1) if key is not None else [None] * (len(gp) - 1)
    for i, layer in enumerate(gp[:-1]):
        # 1→H is a broadcast (no matrix product), H→H a product in the policy's operand format
        pre = h * layer["w"] + layer["b"] if i == 0 else emulate(h) @ emulate(layer["w"]) + layer["b"]
        if keys[i] is not None:
            pre = pre + uniform_noise(keys[i], pre.shape[-1], noise)
        h = jnp.tanh(pre)
    return (emulate(h) @ emulate(gp[-1]["w"]) + gp[-1]["b"]).reshape(shape)


def learned_activation(gp, x, key=None, *, g_scale=0.2, noise=0.1):
    """f(x) = ELU(x) + g_scale·g(x)."""
    return jax.nn.elu(x) + g_scale * g_apply(gp, x, key, noise)


def piecewise_linear_paper(x: jax.Array) -> jax.Array:
    """The original's piecewise-linear fit of its learned function, strict inequalities (0 at knots)."""
    pieces = [
        (x < -2, 0.15 * x + 0.9),
        ((x > -2) & (x < -1), -0.25 * x + 0.1),
        ((x > -1) & (x < -0.25), -1.2 * x - 0.85),
        ((x > -0.25) & (x < 0.1), -0.5 * x - 0.75),
        ((x > 0.1) & (x < 0.6), 0.2 * x - 0.85),
        (x > 0.6, 1.2 * x - 1.4),
    ]
    out = jnp.zeros_like(x)
    for cond, val in pieces:
        out = jnp.where(cond, val, out)
    return out


PWL_KNOTS = (-2.0, -1.0, -0.25, 0.1, 0.6)  # the original fit's breakpoints, reused for our own fits


def hinge_features(x: jax.Array, knots=PWL_KNOTS) -> jax.Array:
    """Basis of continuous piecewise-linear functions with these knots: [1, x, relu(x − k)...], shape [..., 2+K]."""
    return jnp.stack([jnp.ones_like(x), x] + [jax.nn.relu(x - k) for k in knots], axis=-1)


def piecewise_linear(coef: jax.Array, x: jax.Array) -> jax.Array:
    """The continuous piecewise-linear function with coefficients ``coef [2+K]`` on `hinge_features`, at `x`."""
    return hinge_features(x) @ coef


BASELINES: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "elu": jax.nn.elu,
    "swish": jax.nn.swish,
    "gelu": lambda x: jax.nn.gelu(x, approximate=False),
    "softplus": jax.nn.softplus,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "pwl_paper": piecewise_linear_paper,
}


def hermite(values: jax.Array, slopes: jax.Array, lo: float, hi: float, x: jax.Array):
    """Cubic Hermite interpolant of nodes ``lo + iΔ`` (values, slopes ``[K]``) at ``x``: (value, slope).

    Exact at the nodes, error O(Δ⁴); outside [lo, hi] it continues linearly with the end slope.
    """
    k = values.shape[0]
    delta = (hi - lo) / (k - 1)
    u = (jnp.clip(x, lo, hi) - lo) / delta
    i = jnp.clip(jnp.floor(u).astype(jnp.int32), 0, k - 2)
    t = u - i
    g0, g1, d0, d1 = values[i], values[i + 1], slopes[i] * delta, slopes[i + 1] * delta
    t2, t3 = t * t, t * t * t
    val = (2 * t3 - 3 * t2 + 1) * g0 + (t3 - 2 * t2 + t) * d0 + (3 * t2 - 2 * t3) * g1 + (t3 - t2) * d1
    der = ((6 * t2 - 6 * t) * g0 + (3 * t2 - 4 * t + 1) * d0 + (6 * t - 6 * t2) * g1 + (3 * t2 - 2 * t) * d1) / delta
    out = x - jnp.clip(x, lo, hi)  # distance beyond the grid (0 inside)
    end_slope = jnp.where(x > hi, slopes[-1], slopes[0])
    return val + out * end_slope, jnp.where(out != 0, end_slope, der)


def tabulated_activation(g_params, *, g_scale: float = 0.2, nodes: int = 1025, span: float = 12.0) -> Callable:
    """The noise-free learned f as an elementwise function with a custom derivative (the interpolant's)."""
    z = jnp.linspace(-span, span, nodes, dtype=jnp.float32)
    gv, gd = jax.jvp(lambda t: g_apply(g_params, t, None, 0.0), (z,), (jnp.ones_like(z),))

    @jax.custom_jvp
    def f(x):
        return jax.nn.elu(x) + g_scale * hermite(gv, gd, -span, span, x)[0]

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        e, de = jax.jvp(jax.nn.elu, (x,), (jnp.ones_like(x),))
        val, der = hermite(gv, gd, -span, span, x)
        return e + g_scale * val, (de + g_scale * der) * t

    return f
