"""The one model zoo: every study's classifiers as Flax linen modules (pure ``init`` / ``apply``).

Every model maps ``x: (B, 40) float32 -> logits: (B, 10)`` and initialises PyTorch's way by default
(``init_scheme="torch"``, see ``nn.init``). The Table-1 architectures are the defaults:

=========  ===========================================================  ==========
model      architecture                                                 parameters
=========  ===========================================================  ==========
logistic   Dense 40 -> 10                                               410
mlp        h1 = relu(40->100); h2 = h1 + relu(100->100); 100->10        15,210
cnn        3 x [conv k5/3/3, stride 2, pad 1, 25 ch, relu]; 125->10     5,210
gru        bidirectional GRU, hidden 6, PyTorch cell; 480 -> 10         5,134
=========  ===========================================================  ==========

The studies' variants are fields of the same modules:

* lottery tickets: the width-500 residual MLP ``MLP(width=500)``; a ticket trained at its compacted shape is
  ``MLP(width=nV, residual_outputs=n_out)`` (see ``masks.compact_residual``);
* double descent: ``width_model("mlp", n)`` (two hidden layers, no residual) and ``width_model("cnn", c)``;
* pooling: ``CNN(channels=(20, 20), kernel_sizes=(3, 3), strides=(1, 1), pool="max")`` and the others;
* improved baselines: ``activation="prelu"``, wider nets; the learned activation's transfer check passes a
  callable ``activation``;
* metalearning the learning rate: ``MLP(width=50, depth=1, residual=False, activation="tanh")``;
* self-supervised learning: ``ContrastiveCNN`` (the Table-1 CNN's convolutions plus a projection head, every
  layer's activations returned).

Lottery masks need no model support: ``train_step`` multiplies the params by a mask.

It stays one module because it is a catalogue, not a pipeline: independent classes of under 50 lines each that
share only the layers of ``nn.layers`` and are read one at a time, kept beside `MODELS` and the table above so
that every study's classifier is found in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from mnist1d_jax.nn.conv import to_clb
from mnist1d_jax.nn.gru import gru_recurrence
from mnist1d_jax.nn.init import count_params, init_params, torch_bound, uniform_init
from mnist1d_jax.nn.layers import Conv1dCLB, Dense, make_activation

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
    baseline MLP: depth 2, width 100). ``residual_outputs=m < width`` makes those layers produce only ``m``
    units, added to the first ``m`` of ``h`` (the rest pass through): the lottery ticket at its compacted shape.
    ``(B, D) -> (B, num_classes)``.
    """

    width: int = 100
    depth: int = 2
    residual: bool = True
    activation: Any = "relu"
    num_classes: int = 10
    init_scheme: str = "torch"
    residual_outputs: int | None = None

    @nn.compact
    def __call__(self, x: Array) -> Array:
        h = x
        for i in range(self.depth):
            skip = self.residual and i > 0
            out = self.residual_outputs if (skip and self.residual_outputs is not None) else self.width
            a = make_activation(self.activation, out, axis=-1)(Dense(out, init_scheme=self.init_scheme)(h))
            if not skip:
                h = a
            elif out == h.shape[-1]:
                h = h + a
            else:
                h = jnp.concatenate([h[:, :out] + a, h[:, out:]], axis=-1)
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
    ``return_layers=True`` returns ``([layer_1 (B, C_1 * L_1), ..., layer_n], logits)``: every convolution's
    activations (after the activation and any pooling) and the logits, with the same parameters.
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
    return_layers: bool = False

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if not len(self.channels) == len(self.kernel_sizes) == len(self.strides):
            raise ValueError("channels, kernel_sizes and strides must have the same length")
        h = to_clb(x)  # (1, L, B)
        layers = []
        for c, k, s in zip(self.channels, self.kernel_sizes, self.strides, strict=True):
            h = Conv1dCLB(c, k, stride=s, padding=self.padding, init_scheme=self.init_scheme)(h)
            h = make_activation(self.activation, c, axis=0)(h)
            if self.pool is not None:
                h = _pool_clb(h, self.pool)
            layers.append(h.reshape(-1, h.shape[-1]).T)  # (B, C * L), PyTorch flatten order
        feats = layers[-1]
        if not self.head:
            return feats
        logits = Dense(self.num_classes, init_scheme=self.init_scheme)(feats)
        return (layers, logits) if self.return_layers else logits


def _flatten_clb(h: Array) -> Array:
    """``(C, L, B) -> (B, C * L)`` in PyTorch's flatten order."""
    return h.reshape(-1, h.shape[-1]).T


class ResCNN(nn.Module):
    """A residual 1-D CNN: a stride-2 stem, then stages of residual blocks at halving lengths, a linear head.

    Stem ``conv(C, k=5, stride 2, pad 2)``: 40 -> 20; every stage is ``blocks`` residual blocks
    ``h + conv(act(conv(h)))`` (k = 3, pad 1, same length) followed by an activation, stages after the first
    start with a ``conv(C, k=3, stride 2, pad 1)`` (20 -> 10). Flatten, ``Dense(num_classes)``. Default
    (25 channels, 2 stages of 1 block): 12,160 parameters. ``(B, 40) -> (B, num_classes)``.
    """

    channels: int = 25
    stages: int = 2
    blocks: int = 1
    activation: Any = "relu"
    num_classes: int = 10
    init_scheme: str = "torch"

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c, scheme = self.channels, self.init_scheme
        h = make_activation(self.activation, c, axis=0)(Conv1dCLB(c, 5, stride=2, padding=2, init_scheme=scheme)(
            to_clb(x)))
        for stage in range(self.stages):
            if stage > 0:
                h = make_activation(self.activation, c, axis=0)(Conv1dCLB(c, 3, stride=2, padding=1,
                                                                          init_scheme=scheme)(h))
            for _ in range(self.blocks):
                a = make_activation(self.activation, c, axis=0)(Conv1dCLB(c, 3, padding=1, init_scheme=scheme)(h))
                h = make_activation(self.activation, c, axis=0)(h + Conv1dCLB(c, 3, padding=1,
                                                                              init_scheme=scheme)(a))
        return Dense(self.num_classes, init_scheme=scheme)(_flatten_clb(h))


class _DilatedStack(nn.Module):
    """The fields the two dilated networks share: ``channels`` per convolution, ``kernel_size``, one
    convolution per entry of ``dilations``."""

    channels: int = 16
    kernel_size: int = 3
    dilations: Sequence[int] = (1, 2, 4, 8)
    activation: Any = "relu"
    num_classes: int = 10
    init_scheme: str = "torch"


class TCN(_DilatedStack):
    """A temporal convolutional network (Bai, Kolter & Koltun 2018): residual blocks of causal dilated
    convolutions, read out at the last time step.

    Block i: ``act(h + conv_d(act(conv_d(h))))`` with ``d = dilations[i]``, kernel ``k``, left (causal) zero
    padding ``d * (k - 1)`` so that output t sees inputs <= t only; the first block's skip is a 1x1
    convolution from the single input channel. Receptive field ``1 + 2 (k - 1) sum(d)`` (61 for the default
    k = 3, d = 1, 2, 4, 8: the whole 40-step signal reaches the last step). ``Dense(num_classes)`` on the last
    step's ``C`` features. Default (16 channels): 5,754 parameters. ``(B, 40) -> (B, num_classes)``.
    """

    @nn.compact
    def __call__(self, x: Array) -> Array:
        c, k, scheme = self.channels, self.kernel_size, self.init_scheme
        h = to_clb(x)

        def causal(h, d):
            pad = jnp.pad(h, ((0, 0), (d * (k - 1), 0), (0, 0)))  # left only: no output sees the future
            return Conv1dCLB(c, k, padding=0, dilation=d, init_scheme=scheme)(pad)

        for i, d in enumerate(self.dilations):
            skip = Conv1dCLB(c, 1, padding=0, init_scheme=scheme)(h) if i == 0 else h
            a = make_activation(self.activation, c, axis=0)(causal(h, d))
            h = make_activation(self.activation, c, axis=0)(skip + causal(a, d))
        return Dense(self.num_classes, init_scheme=scheme)(h[:, -1, :].T)


class DilatedCNN(_DilatedStack):
    """A dilated 1-D CNN (no residuals, no striding): ``conv(C, k, dilation d, pad d (k - 1) / 2)`` for each
    ``d`` in ``dilations`` (the length stays 40), activation after each, flatten, ``Dense(num_classes)``.
    Receptive field ``1 + (k - 1) sum(d)`` (31 for the default k = 3, d = 1, 2, 4, 8). Default (16 channels):
    8,826 parameters. ``(B, 40) -> (B, num_classes)``.
    """

    @nn.compact
    def __call__(self, x: Array) -> Array:
        if (self.kernel_size - 1) % 2:
            raise ValueError(f"kernel_size={self.kernel_size}: use an odd kernel (symmetric padding)")
        h = to_clb(x)
        for d in self.dilations:
            h = Conv1dCLB(self.channels, self.kernel_size, padding=d * (self.kernel_size - 1) // 2, dilation=d,
                          init_scheme=self.init_scheme)(h)
            h = make_activation(self.activation, self.channels, axis=0)(h)
        return Dense(self.num_classes, init_scheme=self.init_scheme)(_flatten_clb(h))


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


class ContrastiveCNN(nn.Module):
    """The self-supervised study's network: the Table-1 CNN's three convolutions (the encoder) and a projection
    head of ``hidden`` 125-unit ReLU layers before a 16-d output. Returns every layer's activations:
    ``(B, 40) -> [conv1 (B, 475), conv2 (B, 250), h = conv3 (B, 125), projector layers..., z (B, 16)]``; with
    ``hidden = 0`` there is no projector and the last entry is h.
    """

    hidden: int = 1

    @nn.compact
    def __call__(self, x: Array) -> list[Array]:
        layers = []
        a = to_clb(x)
        for c, k in ((25, 5), (25, 3), (25, 3)):
            a = jax.nn.relu(Conv1dCLB(c, k, stride=2, padding=1)(a))
            layers.append(a.reshape(-1, a.shape[-1]).T)
        h = layers[-1]
        if self.hidden == 0:
            return layers
        for _ in range(self.hidden):
            h = jax.nn.relu(Dense(125)(h))
            layers.append(h)
        layers.append(Dense(16)(h))
        return layers


MODELS = {"logistic": Logistic, "mlp": MLP, "cnn": CNN, "gru": BiGRU, "rescnn": ResCNN, "tcn": TCN,
          "dilated_cnn": DilatedCNN}


def get_model(name: str, **kwargs) -> nn.Module:
    """A model by name (``logistic``, ``mlp``, ``cnn``, ``gru``; beyond Table 1 ``rescnn``, ``tcn``,
    ``dilated_cnn``) with keyword overrides of its fields."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; use one of {sorted(MODELS)}") from None
    return cls(**kwargs)


def width_model(kind: str, width: int) -> nn.Module:
    """The width sweeps' models: ``"mlp"`` Dense 40->n, ReLU, Dense n->n, ReLU, Dense n->10 (no residual);
    ``"cnn"`` three convolutions of ``width`` channels (kernels 5/3/3, stride 2, pad 1), then Dense 5c->10."""
    if kind == "mlp":
        return MLP(width=width, depth=2, residual=False)
    if kind == "cnn":
        return CNN(channels=(width, width, width))
    raise ValueError(f"model={kind!r}: use 'mlp' or 'cnn'")


def width_model_params(kind: str, width: int) -> int:
    """Parameters of ``width_model(kind, width)``: MLP n^2 + 52n + 10, CNN 6c^2 + 58c + 10."""
    if kind == "mlp":
        return width * width + 52 * width + 10
    return 6 * width * width + 58 * width + 10


__all__ = ["BiGRU", "CNN", "ContrastiveCNN", "DilatedCNN", "Logistic", "MLP", "MODELS", "ResCNN", "TCN", "count_params",
           "get_model", "init_params", "width_model", "width_model_params"]
