"""Fast exact 1-D layers and PyTorch-default initialisers.

Why a hand-written convolution: XLA's CPU convolution is very slow for the paper's tiny 1-D convs (batch 100,
length <= 40, 25 channels). Here a convolution is "patches feeding one matrix product", with activations kept
*channel-major*, shape ``(C, L, B)``: the patches matrix is then ``(C_in * k, L_out * B)`` and the product
``W (C_out, C_in * k) @ P`` has the long ``L_out * B`` axis as its minor (vectorised) dimension, which XLA's CPU
matmul handles about four times faster than the usual ``(B * L_out, C_in * k) @ (C_in * k, C_out)`` layout
with only 25 output columns. Patches are built from ``k`` strided slices (no gather), which XLA fuses with the
padding, the bias and the previous activation into one loop. The result equals
``jax.lax.conv_general_dilated`` exactly up to float rounding (tested, values and gradients).

Kernels use PyTorch's layout ``(C_out, C_in, k)``: it is the matrix the product wants, and weights (and
lottery-ticket masks, whose flattening order the paper specifies) port one-to-one from the original.

PyTorch-default initialisation (EXPERIMENTS.md §0.1): every weight and bias of a Dense, Conv1d or GRU layer
is ``Uniform(-b, b)`` with ``b = 1 / sqrt(fan_in)`` (fan_in = in features, ``C_in * k`` or the GRU hidden size).
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from jax.custom_derivatives import SymbolicZero

Array = jax.Array
Initializer = Callable[..., Array]


# --------------------------------------------------------------------------------------------------------------
# Initialisers
# --------------------------------------------------------------------------------------------------------------
def uniform_init(bound: float) -> Initializer:
    """Initialiser drawing ``Uniform(-bound, +bound)`` (PyTorch's ``kaiming_uniform(a=sqrt(5))`` equivalent).

    Inside ``exact_uniform_on_host()`` (see there) float32 draws take the setup-friendly path with the same bits.
    """

    def init(key: Array, shape, dtype=jnp.float32) -> Array:
        if getattr(_HOST_UNIFORM, "on", False) and jnp.dtype(dtype) == jnp.float32:
            return _uniform_via_host(key, tuple(shape), bound)
        return jax.random.uniform(key, shape, dtype, minval=-bound, maxval=bound)

    return init


# Initialising a model eagerly compiles every op for its shapes, and jit-compiling the init spends seconds in
# LLVM on jax.random's bit generator: ~4 s per model width either way, minutes for a width sweep. A setup
# program compiled without LLVM's passes (``devices.jit_setup``) takes ~1 s but is only exact for integer
# work: XLA fuses ``u * (hi - lo) + lo`` into one fused multiply-add at its default level and not at level 0,
# which moves the last bit of some draws. So inside this context the initialiser draws the raw bits in the
# program (integers: the same at every level) and a host callback turns them into floats: ``u * 2b - b`` is
# computed in float64, where it is exact (u has 23 fraction bits and b 24 significant bits, so the sum needs
# fewer than 53), and rounded once to float32 -- exactly the fused multiply-add's result. Tested equal to
# ``jax.random.uniform`` draw for draw. The switch is per thread (studies trace programs on two threads).
_HOST_UNIFORM = threading.local()


@contextlib.contextmanager
def exact_uniform_on_host():
    """While tracing inside this context, ``uniform_init`` draws are bits in the program plus an exact host
    conversion (for init programs compiled by ``devices.jit_setup``; same values as ``jax.random.uniform``)."""
    previous, _HOST_UNIFORM.on = getattr(_HOST_UNIFORM, "on", False), True
    try:
        yield
    finally:
        _HOST_UNIFORM.on = previous


def _bits_to_uniform(bits: np.ndarray, bound: float) -> np.ndarray:
    """``jax.random.uniform(..., -bound, bound)`` from its raw uint32 bits, on the host (see above)."""
    bits = np.asarray(bits, np.uint32)
    u = ((bits >> np.uint32(9)) | np.uint32(0x3F800000)).view(np.float32) - np.float32(1.0)  # [0, 1)
    lo = np.float32(-bound)
    span = np.float32(bound) - lo
    return np.maximum(lo, (u.astype(np.float64) * np.float64(span) + np.float64(lo)).astype(np.float32))


def _uniform_via_host(key: Array, shape: tuple[int, ...], bound: float) -> Array:
    bits = jax.random.bits(key, shape, jnp.uint32)
    return jax.pure_callback(functools.partial(_bits_to_uniform, bound=bound),
                             jax.ShapeDtypeStruct(shape, jnp.float32), bits, vmap_method="broadcast_all")


def torch_bound(fan_in: int) -> float:
    """PyTorch's default bound ``1 / sqrt(fan_in)`` for Linear, Conv1d (fan_in = C_in * k) and GRU (fan_in = H)."""
    return 1.0 / math.sqrt(fan_in)


def lecun_or_torch(init: str, fan_in: int, bias: bool) -> Initializer:
    """The initialiser for a weight (``bias=False``) or bias of a layer with ``fan_in`` inputs.

    ``"torch"``: Uniform(+-1/sqrt(fan_in)) for both (what the reproduction configs use);
    ``"flax"``: LeCun-normal weights and zero biases (Flax's defaults).
    """
    if init == "torch":
        return uniform_init(torch_bound(fan_in))
    if init == "flax":
        return nn.initializers.zeros if bias else nn.initializers.lecun_normal()
    raise ValueError(f"init={init!r}: use 'torch' or 'flax'")


# --------------------------------------------------------------------------------------------------------------
# The convolution
# --------------------------------------------------------------------------------------------------------------
def conv_out_length(length: int, kernel_size: int, stride: int, padding: int) -> int:
    """Output length ``floor((L + 2 * padding - k) / stride) + 1`` (as PyTorch's Conv1d)."""
    return (length + 2 * padding - kernel_size) // stride + 1


def patches_clb(h: Array, kernel_size: int, stride: int, padding: int) -> Array:
    """Convolution patches of channel-major activations.

    Args:
      h: ``(C, L, B)`` activations.
    Returns:
      ``(C * k, L_out * B)``; row ``c * k + j`` holds input channel c at offset j, matching a PyTorch kernel
      ``(C_out, C_in, k)`` reshaped to ``(C_out, C_in * k)``.
    """
    c, length, b = h.shape
    l_out = conv_out_length(length, kernel_size, stride, padding)
    if l_out < 1:
        raise ValueError(f"convolution output is empty: L={length}, k={kernel_size}, pad={padding}")
    hp = jnp.pad(h, ((0, 0), (padding, padding), (0, 0)))
    span = stride * (l_out - 1) + 1
    # k strided slices rather than a gather: XLA fuses them (and the pad) into a single copy loop.
    cols = jnp.stack([hp[:, j : j + span : stride, :] for j in range(kernel_size)], axis=1)  # (C, k, L_out, B)
    return cols.reshape(c * kernel_size, l_out * b)


# Up to this many input taps (C_in * k) a convolution's forward pass is an unrolled sum of broadcast products, one
# fused elementwise loop, instead of a matrix product: for the first layer (C_in * k = 5) a K = 5 product is
# mostly call and packing overhead (the CNN's training step is ~18 % faster on a CPU).
ELEMENTWISE_MAX_TAPS = 8


def _conv_matmul(h: Array, kernel: Array, stride: int, padding: int) -> Array:
    """Patches times kernel, no bias: ``(C_in, L, B), (C_out, C_in, k) -> (C_out, L_out, B)``."""
    c_out, c_in, k = kernel.shape
    p = patches_clb(h, k, stride, padding)
    out = kernel.reshape(c_out, c_in * k) @ p  # (C_out, L_out * B): the fast, lane-friendly product
    return out.reshape(c_out, -1, h.shape[-1])


def _conv_elementwise(h: Array, kernel: Array, stride: int, padding: int) -> Array:
    """The same as ``_conv_matmul`` as a sum of ``C_in * k`` broadcast products (for few taps)."""
    c_out, c_in, k = kernel.shape
    l_out = conv_out_length(h.shape[1], k, stride, padding)
    span = stride * (l_out - 1) + 1
    hp = jnp.pad(h, ((0, 0), (padding, padding), (0, 0)))
    terms = [kernel[:, c, j, None, None] * hp[c, None, j:j + span:stride, :] for c in range(c_in) for j in range(k)]
    return sum(terms[1:], terms[0])


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4))
def _conv_bias(h: Array, kernel: Array, bias: Array, stride: int, padding: int) -> Array:
    c_out, c_in, k = kernel.shape
    if c_in * k <= ELEMENTWISE_MAX_TAPS:
        out = _conv_elementwise(h, kernel, stride, padding)
    else:
        out = _conv_matmul(h, kernel, stride, padding)
    return out + bias[:, None, None]


def _conv_bias_jvp(stride, padding, primals, tangents):
    # The derivative is always the matrix-product form (linear in each tangent), whatever the forward kernel:
    # its transpose (reverse mode) is then the patches product for the kernel gradient and the transposed
    # patches for the input gradient, exactly as for the plain matmul convolution. Symbolic zeros (e.g. the
    # data, which is never differentiated) cost nothing.
    h, kernel, bias = primals
    dh, dkernel, dbias = tangents
    out = _conv_bias(h, kernel, bias, stride, padding)
    tangent = jnp.zeros_like(out)
    if not isinstance(dh, SymbolicZero):
        tangent = tangent + _conv_matmul(dh, kernel, stride, padding)
    if not isinstance(dkernel, SymbolicZero):
        tangent = tangent + _conv_matmul(h, dkernel, stride, padding)
    if not isinstance(dbias, SymbolicZero):
        tangent = tangent + dbias[:, None, None]
    return out, tangent


_conv_bias.defjvp(_conv_bias_jvp, symbolic_zeros=True)


def conv1d_clb(h: Array, kernel: Array, bias: Array | None, stride: int = 1, padding: int = 0) -> Array:
    """1-D convolution (cross-correlation, as PyTorch) of channel-major activations.

    Args:
      h: ``(C_in, L, B)``.
      kernel: ``(C_out, C_in, k)`` (PyTorch layout).
      bias: ``(C_out,)`` or None.
    Returns:
      ``(C_out, L_out, B)`` with explicit symmetric zero padding ``padding`` on both sides.

    A ``custom_jvp`` (so forward and reverse mode, and derivatives of derivatives, all work): the forward pass
    picks the faster kernel for the layer's size, the derivative is always the patches product.
    """
    c_out, c_in, k = kernel.shape
    if h.shape[0] != c_in:
        raise ValueError(f"input has {h.shape[0]} channels, kernel expects {c_in}")
    if conv_out_length(h.shape[1], k, stride, padding) < 1:
        raise ValueError(f"convolution output is empty: L={h.shape[1]}, k={k}, pad={padding}")
    if bias is None:
        bias = jnp.zeros((c_out,), kernel.dtype)
    return _conv_bias(h, kernel, bias, stride, padding)


def conv1d(x: Array, kernel: Array, bias: Array | None, stride: int = 1, padding: int = 0) -> Array:
    """The same convolution in the usual batch-major layout: ``(B, L, C_in) -> (B, L_out, C_out)``.

    Convenience wrapper (two transposes); models keep activations channel-major between layers instead.
    """
    out = conv1d_clb(jnp.transpose(x, (2, 1, 0)), kernel, bias, stride, padding)
    return jnp.transpose(out, (2, 1, 0))


def to_clb(x: Array) -> Array:
    """``(B, L)`` single-channel signals -> ``(1, L, B)`` channel-major activations."""
    return x.T[None]


# --------------------------------------------------------------------------------------------------------------
# Flax modules
# --------------------------------------------------------------------------------------------------------------
class Dense(nn.Module):
    """``y = x @ kernel + bias`` with a Flax-layout kernel ``(in, out)``; ``(..., in) -> (..., out)``."""

    features: int
    init_scheme: str = "torch"
    use_bias: bool = True

    @nn.compact
    def __call__(self, x: Array) -> Array:
        fan_in = x.shape[-1]
        kernel = self.param("kernel", lecun_or_torch(self.init_scheme, fan_in, False), (fan_in, self.features))
        y = x @ kernel
        if self.use_bias:
            y = y + self.param("bias", lecun_or_torch(self.init_scheme, fan_in, True), (self.features,))
        return y


class Conv1dCLB(nn.Module):
    """Conv1d on channel-major activations ``(C_in, L, B) -> (C_out, L_out, B)``; kernel ``(C_out, C_in, k)``."""

    features: int
    kernel_size: int
    stride: int = 1
    padding: int = 1
    init_scheme: str = "torch"

    @nn.compact
    def __call__(self, h: Array) -> Array:
        c_in = h.shape[0]
        fan_in = c_in * self.kernel_size
        shape = (self.features, c_in, self.kernel_size)
        if self.init_scheme == "flax":  # lecun_normal on (C_out, C_in, k) must be told which axes are fan-in
            w_init = nn.initializers.lecun_normal(in_axis=(1, 2), out_axis=0)
        else:
            w_init = lecun_or_torch(self.init_scheme, fan_in, False)
        kernel = self.param("kernel", w_init, shape)
        bias = self.param("bias", lecun_or_torch(self.init_scheme, fan_in, True), (self.features,))
        return conv1d_clb(h, kernel, bias, self.stride, self.padding)


class PReLU(nn.Module):
    """Parametric ReLU ``max(x, 0) + a * min(x, 0)``; ``a`` starts at 0.25 as PyTorch's PReLU.

    ``num_parameters=1`` shares one slope (PyTorch's default); otherwise one slope per feature along
    ``axis`` (the channel axis: 0 for channel-major conv activations, -1 for Dense activations).
    """

    num_parameters: int = 1
    axis: int = -1
    init_value: float = 0.25

    @nn.compact
    def __call__(self, x: Array) -> Array:
        a = self.param("slope", nn.initializers.constant(self.init_value), (self.num_parameters,))
        if self.num_parameters > 1:
            shape = [1] * x.ndim
            shape[self.axis] = self.num_parameters
            a = a.reshape(shape)
        return jnp.where(x >= 0, x, a * x)


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "relu": jax.nn.relu,
    "elu": jax.nn.elu,
    "gelu": jax.nn.gelu,
    "swish": jax.nn.swish,
    "softplus": jax.nn.softplus,
    "tanh": jnp.tanh,
    "sigmoid": jax.nn.sigmoid,
    "identity": lambda x: x,
}


def make_activation(activation, features: int, axis: int) -> Callable[[Array], Array]:
    """Resolve an activation given by name (see ``ACTIVATIONS`` plus ``"prelu"``) or as a callable.

    ``"prelu"`` returns a per-feature PReLU module (``features`` slopes along ``axis``); call this inside a
    compact ``__call__`` so the module is bound to the caller.
    """
    if callable(activation):
        return activation
    if activation == "prelu":
        return PReLU(num_parameters=features, axis=axis)
    if activation == "prelu1":
        return PReLU(num_parameters=1, axis=axis)
    try:
        return ACTIVATIONS[activation]
    except KeyError:
        raise ValueError(f"unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)} or 'prelu'") from None
