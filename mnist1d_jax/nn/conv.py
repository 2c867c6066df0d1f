"""The 1-D convolution of every model, with one implementation per backend.

Activations are channel-major, ``(C, L, B)``, and kernels use PyTorch's layout ``(C_out, C_in, k)`` (weights
and lottery masks port one-to-one from the original, whose flatten order the paper specifies).

* **CPU** (``backend.on_cpu()``): "patches feeding one matrix product". XLA's CPU convolution is slow for the
  paper's tiny convolutions (batch 100, length <= 40, 25 channels): here the patches matrix is
  ``(C_in * k, L_out * B)`` and ``W (C_out, C_in * k) @ P`` has the long ``L_out * B`` axis as its minor
  (vectorised) dimension. Patches are ``k`` strided slices (no gather), which XLA fuses with the padding, the
  bias and the previous activation. A first layer with at most `ELEMENTWISE_MAX_TAPS` taps is an unrolled sum
  of broadcast products instead. Measured on this project's 2-core machine: a Table-1 CNN step ~3x faster
  than ``lax.conv_general_dilated``.
* **Elsewhere** (GPU, TPU): ``lax.conv_general_dilated`` in the same layout.

Both compute the same cross-correlation with symmetric zero padding (tested equal, values and gradients). Under
a reduced matmul precision (``precision.py``) both see operands rounded to its format.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from mnist1d_jax.runtime.backend import on_cpu
from mnist1d_jax.runtime.precision import emulate

Array = jax.Array

# Up to this many input taps (C_in * k) the CPU forward pass is an unrolled sum of broadcast products, one fused
# elementwise loop, instead of a matrix product: for the first layer (C_in * k = 5) a K = 5 product is mostly
# call and packing overhead (the CNN's training step ~18 % faster on a CPU, measured).
ELEMENTWISE_MAX_TAPS = 8


def conv_out_length(length: int, kernel_size: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output length ``floor((L + 2 * padding - d * (k - 1) - 1) / stride) + 1`` (as PyTorch's Conv1d)."""
    return (length + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def patches_clb(h: Array, kernel_size: int, stride: int, padding: int, dilation: int = 1) -> Array:
    """Convolution patches of channel-major activations ``(C, L, B) -> (C * k, L_out * B)``.

    Row ``c * k + j`` holds input channel c at offset ``j * dilation``, matching a kernel ``(C_out, C_in, k)``
    reshaped to ``(C_out, C_in * k)``.
    """
    c, length, b = h.shape
    l_out = conv_out_length(length, kernel_size, stride, padding, dilation)
    if l_out < 1:
        raise ValueError(f"convolution output is empty: L={length}, k={kernel_size}, pad={padding}")
    hp = jnp.pad(h, ((0, 0), (padding, padding), (0, 0)))
    span = stride * (l_out - 1) + 1
    # k strided slices rather than a gather: XLA fuses them (and the pad) into a single copy loop.
    cols = jnp.stack([hp[:, j * dilation : j * dilation + span : stride, :] for j in range(kernel_size)],
                     axis=1)  # (C, k, L_out, B)
    return cols.reshape(c * kernel_size, l_out * b)


def _conv_matmul(h: Array, kernel: Array, stride: int, padding: int, dilation: int = 1) -> Array:
    """Patches times kernel, no bias: ``(C_in, L, B), (C_out, C_in, k) -> (C_out, L_out, B)``."""
    c_out, c_in, k = kernel.shape
    p = patches_clb(h, k, stride, padding, dilation)
    out = kernel.reshape(c_out, c_in * k) @ p  # (C_out, L_out * B): the fast, lane-friendly product
    return out.reshape(c_out, -1, h.shape[-1])


def _conv_elementwise(h: Array, kernel: Array, stride: int, padding: int, dilation: int = 1) -> Array:
    """The same as ``_conv_matmul`` as a sum of ``C_in * k`` broadcast products (for few taps)."""
    c_out, c_in, k = kernel.shape
    l_out = conv_out_length(h.shape[1], k, stride, padding, dilation)
    span = stride * (l_out - 1) + 1
    hp = jnp.pad(h, ((0, 0), (padding, padding), (0, 0)))
    terms = [kernel[:, c, j, None, None] * hp[c, None, j * dilation:j * dilation + span:stride, :]
             for c in range(c_in) for j in range(k)]
    return sum(terms[1:], terms[0])


@functools.partial(jax.custom_jvp, nondiff_argnums=(3, 4, 5))
def _conv_bias_cpu(h: Array, kernel: Array, bias: Array, stride: int, padding: int, dilation: int = 1) -> Array:
    c_out, c_in, k = kernel.shape
    if c_in * k <= ELEMENTWISE_MAX_TAPS:
        out = _conv_elementwise(h, kernel, stride, padding, dilation)
    else:
        out = _conv_matmul(h, kernel, stride, padding, dilation)
    return out + bias[:, None, None]


def _conv_bias_cpu_jvp(stride, padding, dilation, primals, tangents):
    # The derivative is always the matrix-product form (linear in each tangent), whatever the forward kernel:
    # its transpose (reverse mode) is then the patches product for the kernel gradient and the transposed
    # patches for the input gradient. Symbolic zeros (e.g. the data, never differentiated) cost nothing.
    h, kernel, bias = primals
    dh, dkernel, dbias = tangents
    out = _conv_bias_cpu(h, kernel, bias, stride, padding, dilation)
    tangent = jnp.zeros_like(out)
    if not isinstance(dh, SymbolicZero):
        tangent = tangent + _conv_matmul(dh, kernel, stride, padding, dilation)
    if not isinstance(dkernel, SymbolicZero):
        tangent = tangent + _conv_matmul(h, dkernel, stride, padding, dilation)
    if not isinstance(dbias, SymbolicZero):
        tangent = tangent + dbias[:, None, None]
    return out, tangent


_conv_bias_cpu.defjvp(_conv_bias_cpu_jvp, symbolic_zeros=True)


def _conv_bias_xla(h: Array, kernel: Array, bias: Array, stride: int, padding: int, dilation: int = 1) -> Array:
    out = jax.lax.conv_general_dilated(h, kernel, (stride,), [(padding, padding)], rhs_dilation=(dilation,),
                                       dimension_numbers=("CWN", "OIW", "CWN"))
    return out + bias[:, None, None]


def conv1d_clb(h: Array, kernel: Array, bias: Array | None, stride: int = 1, padding: int = 0,
               dilation: int = 1) -> Array:
    """1-D convolution (cross-correlation, as PyTorch) of channel-major activations.

    Args:
      h: ``(C_in, L, B)``.
      kernel: ``(C_out, C_in, k)`` (PyTorch layout).
      bias: ``(C_out,)`` or None.
      dilation: spacing of the kernel's taps (PyTorch's ``dilation``).
    Returns:
      ``(C_out, L_out, B)`` with explicit symmetric zero padding ``padding`` on both sides. Forward and reverse
      mode and derivatives of derivatives all work, on either implementation.
    """
    c_out, c_in, k = kernel.shape
    if h.shape[0] != c_in:
        raise ValueError(f"input has {h.shape[0]} channels, kernel expects {c_in}")
    if conv_out_length(h.shape[1], k, stride, padding, dilation) < 1:
        raise ValueError(f"convolution output is empty: L={h.shape[1]}, k={k}, pad={padding}")
    if bias is None:
        bias = jnp.zeros((c_out,), kernel.dtype)
    # The policy's operand format (precision.py), once for both kernels: the CPU rule's tangent then multiplies by
    # the same rounded operands (the straight-through derivative). Under float32 h and kernel are unchanged.
    h, kernel = emulate(h), emulate(kernel)
    impl = _conv_bias_cpu if on_cpu() else _conv_bias_xla
    return impl(h, kernel, bias, stride, padding, dilation)


def conv1d(x: Array, kernel: Array, bias: Array | None, stride: int = 1, padding: int = 0) -> Array:
    """The same convolution in the usual batch-major layout: ``(B, L, C_in) -> (B, L_out, C_out)``.

    A convenience wrapper (two transposes); models keep activations channel-major between layers instead.
    """
    out = conv1d_clb(jnp.transpose(x, (2, 1, 0)), kernel, bias, stride, padding)
    return jnp.transpose(out, (2, 1, 0))


def to_clb(x: Array) -> Array:
    """``(B, L)`` single-channel signals -> ``(1, L, B)`` channel-major activations."""
    return x.T[None]


__all__ = ["ELEMENTWISE_MAX_TAPS", "conv1d", "conv1d_clb", "conv_out_length", "patches_clb", "to_clb"]
