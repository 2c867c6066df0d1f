"""The paper's classifiers as Flax linen modules with pure ``init``/``apply`` (EXPERIMENTS.md §2.2).

Every model maps ``x: (B, 40) float32 -> logits: (B, 10)``. Defaults are the Table-1 architectures with
PyTorch-default initialisation (``init_scheme="torch"``), which is what the reproduction configs use:

=========  ===========================================================  ==========
model      architecture                                                 parameters
=========  ===========================================================  ==========
logistic   Dense 40 -> 10                                               410
mlp        h1 = relu(40->100); h2 = h1 + relu(100->100); 100->10        15,210
cnn        3 x [conv k5/3/3, stride 2, pad 1, 25 ch, relu]; 125->10     5,210
gru        bidirectional GRU, hidden 6, PyTorch cell; 480 -> 10         5,134
=========  ===========================================================  ==========

Fields that set shapes (width, depth, channels, kernels, pooling, activation) are configurable so later studies
reuse the same modules: the width-500 lottery MLP (``MLP(width=500)``), the double-descent MLP with two hidden
layers and no residual (``MLP(width=n, residual=False)``) and CNN with c channels (``CNN(channels=(c, c, c))``),
the pooling variants (``CNN(channels=(20, 20), kernel_sizes=(3, 3), strides=(1, 1), pool="max")``), an SSL
encoder (``CNN(..., head=False)`` returns the flattened representation) and the PReLU baselines
(``activation="prelu"``). Lottery masks need no model support: ``train_step`` multiplies params by a mask.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from mnist1d_jax.core.parallel import jit_setup
from mnist1d_jax.nn.layers import (
    Conv1dCLB,
    Dense,
    exact_uniform_on_host,
    lecun_or_torch,
    make_activation,
    to_clb,
    torch_bound,
    uniform_init,
)

Array = jax.Array


class Logistic(nn.Module):
    """Multinomial logistic regression: ``(B, D) -> (B, num_classes)``."""

    num_classes: int = 10
    init_scheme: str = "torch"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        return Dense(self.num_classes, init_scheme=self.init_scheme)(x)


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units, optional residual connections, then a linear head.

    ``residual=True`` adds ``h + act(Dense(h))`` around every hidden layer after the first (the paper's
    baseline MLP: depth 2, width 100). ``(B, D) -> (B, num_classes)``.
    """

    width: int = 100
    depth: int = 2
    residual: bool = True
    activation: Any = "relu"
    num_classes: int = 10
    init_scheme: str = "torch"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        h = x
        for i in range(self.depth):
            act = make_activation(self.activation, self.width, axis=-1)
            a = act(Dense(self.width, init_scheme=self.init_scheme)(h))
            h = h + a if (self.residual and i > 0) else a
        return Dense(self.num_classes, init_scheme=self.init_scheme)(h)


def _pool_clb(h: Array, kind: str) -> Array:
    """Window-2 stride-2 pooling along the length axis of ``(C, L, B)`` (a trailing odd element is dropped)."""
    c, length, b = h.shape
    pairs = h[:, : 2 * (length // 2)].reshape(c, length // 2, 2, b)
    if kind == "max":
        return pairs.max(axis=2)
    if kind == "avg":
        return pairs.mean(axis=2)
    if kind == "l2":
        # LP-pool with p=2 is sqrt of the *sum* of squares. sqrt'(0) is infinite and ReLU outputs are often 0:
        # take the square root of a safe value so the gradient is 0 there (as PyTorch's) instead of NaN.
        s = jnp.sum(pairs * pairs, axis=2)
        safe = jnp.where(s > 0, s, 1.0)
        return jnp.where(s > 0, jnp.sqrt(safe), 0.0)
    raise ValueError(f"pool={kind!r}: use None, 'max', 'avg' or 'l2'")


class CNN(nn.Module):
    """Stacked 1-D convolutions (explicit symmetric padding), activation, optional pooling, linear head.

    Activations are channel-major ``(C, L, B)`` inside (see ``layers``); the flatten order is PyTorch's
    ``c * L + l``. ``(B, 40) -> (B, num_classes)``, or ``(B, C_last * L_last)`` features when ``head=False``.
    """

    channels: Sequence[int] = (25, 25, 25)
    kernel_sizes: Sequence[int] = (5, 3, 3)
    strides: Sequence[int] = (2, 2, 2)
    padding: int = 1
    pool: str | None = None
    activation: Any = "relu"
    num_classes: int = 10
    head: bool = True
    init_scheme: str = "torch"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if not len(self.channels) == len(self.kernel_sizes) == len(self.strides):
            raise ValueError("channels, kernel_sizes and strides must have the same length")
        h = to_clb(x)  # (1, L, B)
        for c, k, s in zip(self.channels, self.kernel_sizes, self.strides, strict=True):
            h = Conv1dCLB(c, k, stride=s, padding=self.padding, init_scheme=self.init_scheme)(h)
            h = make_activation(self.activation, c, axis=0)(h)
            if self.pool is not None:
                h = _pool_clb(h, self.pool)
        feats = h.reshape(-1, h.shape[-1]).T  # (B, C * L), PyTorch flatten order
        if not self.head:
            return feats
        return Dense(self.num_classes, init_scheme=self.init_scheme)(feats)


def _gru_cell(gi_t, h, w_h, b_h):
    """One PyTorch-form GRU step for stacked directions; gi_t (D, 3H, B), h (D, H, B), w_h (D, 3H, H)."""
    hdim = h.shape[1]
    # The recurrent product is tiny (18 x 6 per direction) but still a matrix product: written as a sum of H
    # broadcast products it became a slow elementwise loop on a CPU (~2x slower per step, measured).
    gh = b_h[:, :, None] + jnp.einsum("dgk,dkb->dgb", w_h, h)  # (D, 3H, B)
    r = jax.nn.sigmoid(gi_t[:, :hdim] + gh[:, :hdim])
    z = jax.nn.sigmoid(gi_t[:, hdim:2 * hdim] + gh[:, hdim:2 * hdim])
    ghn = gh[:, 2 * hdim:]
    n = jnp.tanh(gi_t[:, 2 * hdim:] + r * ghn)
    return (1.0 - z) * n + z * h, (r, z, n, ghn)


@jax.custom_vjp
def gru_recurrence(gi: Array, w_h: Array, b_h: Array) -> Array:
    """All hidden states of a (stacked-direction) GRU: gi (T, D, 3H, B) input projections -> (T, D, H, B).

    Reverse mode uses a hand-written backward pass (``_gru_bwd``): the reverse scan carries only dh, and the
    recurrent weight gradients are two contractions over (time, batch) after it, instead of a small matmul and
    an accumulation inside every one of the T steps (3-4x faster on a CPU). Differentiable again (it is JAX
    code), so meta-gradients through a GRU run work; forward-mode (``jax.jvp``) is not available.
    """
    return _gru_fwd(gi, w_h, b_h)[0]


def _gru_fwd(gi, w_h, b_h):
    def step(h, gi_t):
        h_new, (r, z, n, ghn) = _gru_cell(gi_t, h, w_h, b_h)
        return h_new, (h_new, h, r, z, n, ghn)

    h0 = jnp.zeros(gi.shape[1:2] + (w_h.shape[2], gi.shape[3]), gi.dtype)
    _, (hs, h_prev, r, z, n, ghn) = jax.lax.scan(step, h0, gi)
    return hs, (w_h, h_prev, r, z, n, ghn)


def _gru_bwd(res, d_hs):
    w_h, h_prev, r, z, n, ghn = res

    def step(dh, xs):
        d_out, hp, r, z, n, ghn = xs
        dh = dh + d_out
        dn = dh * (1.0 - z)
        da_n = dn * (1.0 - n * n)
        da_r = da_n * ghn * r * (1.0 - r)
        da_z = dh * (hp - n) * z * (1.0 - z)
        dgh = jnp.concatenate([da_r, da_z, da_n * r], axis=1)  # (D, 3H, B): cotangent of W_h h + b_h
        dgi = jnp.concatenate([da_r, da_z, da_n], axis=1)  # cotangent of the input projections
        # W_h^T dgh (D, H, B): a batched product, as in the forward cell.
        dh_prev = dh * z + jnp.einsum("dgk,dgb->dkb", w_h, dgh)
        return dh_prev, (dgi, dgh)

    _, (dgi, dgh) = jax.lax.scan(step, jnp.zeros_like(h_prev[0]), (d_hs, h_prev, r, z, n, ghn), reverse=True)
    dw_h = jnp.einsum("tdgb,tdkb->dgk", dgh, h_prev)
    db_h = dgh.sum(axis=(0, 3))
    return dgi, dw_h, db_h


gru_recurrence.defvjp(_gru_fwd, _gru_bwd)


class BiGRU(nn.Module):
    """Bidirectional single-layer GRU over the 40 values (one scalar input per step), then a linear head.

    The cell is PyTorch's (six bias vectors per direction, reset gate applied to ``W_hn h + b_hn``), so the
    parameter count is 2 * 3 * (H + H*H + 2H) + (40 * 2H) * 10 + 10 = 5,134 for H = 6. Parameters are stacked
    over the two directions: ``w_i (2, 3H)``, ``w_h (2, 3H, H)``, ``b_i, b_h (2, 3H)``, gate order (r, z, n).
    Both directions run in one scan (the backward one reads the sequence reversed), state ``(2, H, B)``.
    The per-step outputs, forward then backward at each step, are flattened in the order ``t * 2H + d * H + k``.
    ``(B, T) -> (B, num_classes)``.
    """

    hidden: int = 6
    num_classes: int = 10
    init_scheme: str = "torch"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        hdim = self.hidden
        g_init = uniform_init(torch_bound(hdim)) if self.init_scheme == "torch" else nn.initializers.lecun_normal()
        b_init = uniform_init(torch_bound(hdim)) if self.init_scheme == "torch" else nn.initializers.zeros
        w_i = self.param("w_i", g_init, (2, 3 * hdim))
        w_h = self.param("w_h", g_init, (2, 3 * hdim, hdim))
        b_i = self.param("b_i", b_init, (2, 3 * hdim))
        b_h = self.param("b_h", b_init, (2, 3 * hdim))

        xs = jnp.stack([x.T, x.T[::-1]], axis=1)  # (T, 2, B): direction 1 reads the sequence backwards
        # Input projections for all steps at once (input size 1: an outer product), (T, 2, 3H, B).
        gi = xs[:, :, None, :] * w_i[None, :, :, None] + b_i[None, :, :, None]
        hs = gru_recurrence(gi, w_h, b_h)  # (T, 2, H, B)
        hs = jnp.stack([hs[:, 0], hs[::-1, 1]], axis=1)  # align the backward direction with time
        feats = hs.reshape(-1, x.shape[0]).T  # (B, T * 2H)
        return Dense(self.num_classes, init_scheme=self.init_scheme)(feats)


MODELS = {"logistic": Logistic, "mlp": MLP, "cnn": CNN, "gru": BiGRU}


def get_model(name: str, **kwargs) -> nn.Module:
    """A model by name (``logistic``, ``mlp``, ``cnn``, ``gru``) with keyword overrides of its fields."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; use one of {sorted(MODELS)}") from None
    return cls(**kwargs)


def count_params(params: Any) -> int:
    """Total number of scalars in a parameter pytree."""
    return sum(int(p.size) for p in jax.tree_util.tree_leaves(params))


def init_params(model: nn.Module, key: Array, input_length: int = 40) -> Any:
    """Pure initialisation: the ``params`` collection of ``model`` for inputs ``(1, input_length)``."""
    return model.init(key, jnp.zeros((1, input_length), jnp.float32))["params"]


@functools.lru_cache(maxsize=512)
def _many_initializer(model: nn.Module, input_length: int):
    def one(key):
        with exact_uniform_on_host():
            return init_params(model, key, input_length)
    return jit_setup(jax.vmap(one))


def init_params_many(model: nn.Module, keys: Array, input_length: int = 40) -> Any:
    """``init_params`` for a stack of keys ``(S,)`` in one quickly compiled setup program: leaves ``(S, ...)``.

    For PyTorch-default (``init_scheme="torch"``) models the values equal ``[init_params(model, k) for k in
    keys]`` bit for bit (``layers.exact_uniform_on_host``), at ~1 s per new model shape instead of ~4 s
    (eager initialisation compiles every op; a jitted one spends seconds optimising the bit generator).
    """
    return _many_initializer(model, input_length)(keys)


__all__ = ["MLP", "CNN", "BiGRU", "Logistic", "MODELS", "get_model", "count_params", "init_params",
           "init_params_many", "lecun_or_torch"]
