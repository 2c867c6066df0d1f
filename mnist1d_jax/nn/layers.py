"""The layers every model is built from: Dense, Conv1d, PReLU and the named activations (Flax linen).

``Conv1dCLB`` works on channel-major activations ``(C, L, B)`` with a PyTorch-layout kernel ``(C_out, C_in, k)``;
its kernel is chosen per backend in ``nn.conv``. Every layer initialises PyTorch's way by default
(``init_scheme="torch"``, ``nn.init``). The operands of every product pass through ``precision.emulate`` (the
matmul precision policy: the identity under the default float32).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from flax import linen as nn

from mnist1d_jax.nn.conv import conv1d_clb
from mnist1d_jax.nn.init import lecun_or_torch
from mnist1d_jax.runtime.precision import emulate

Array = jax.Array


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
        y = emulate(x) @ emulate(kernel)  # the policy's operand format (precision.py); x itself under float32
        if self.use_bias:
            y = y + self.param("bias", lecun_or_torch(self.init_scheme, fan_in, True), (self.features,))
        return y


class Conv1dCLB(nn.Module):
    """Conv1d on channel-major activations ``(C_in, L, B) -> (C_out, L_out, B)``; kernel ``(C_out, C_in, k)``.

    (Flax derives each parameter's random key from its path, which holds this class name: renaming it would
    change every recorded CNN's initial weights.)
    """

    features: int
    kernel_size: int
    stride: int = 1
    padding: int = 1
    init_scheme: str = "torch"
    dilation: int = 1

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
        return conv1d_clb(h, kernel, bias, self.stride, self.padding, self.dilation)


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
