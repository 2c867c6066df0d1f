"""The matmul precision policy: one setting for the matrix products and convolutions of every model.

Why: JAX's default precision for float32 matrix products depends on the backend (TensorFloat-32 on NVIDIA GPUs
since Ampere, one bfloat16 pass on a TPU, exact float32 on a CPU), so a program that never sets one gives other
numbers off the CPU. The package therefore sets it: every training program it compiles (``core.runs``,
``core.grid``, ``sweeps``, the study runner) is traced under the policy's setting, ``"float32"`` unless asked.

The settings (the names users see, and JAX's ``jax_default_matmul_precision`` value each one sets):

=========  =================  ==========================================================================
name       JAX's setting      the products' operands
=========  =================  ==========================================================================
float32    ``float32``        full float32 (24 significant bits) on every backend: the default
tf32       ``tensorfloat32``  TensorFloat-32: rounded to 10 stored mantissa bits, float32 accumulation
bf16       ``bfloat16``       bfloat16: rounded to 7 stored mantissa bits, float32 accumulation
=========  =================  ==========================================================================

Where the setting comes from (`resolve`), first that applies: an explicit name (``TrainConfig.precision``,
``SweepConfig.precision``, ``use_precision(name)``); the setting in effect, i.e. JAX's
``jax_default_matmul_precision`` when it is one of ours (set by an enclosing ``use_precision`` block, or for the
process by ``set_precision``, which the CLI's ``--precision`` calls); ``$MNIST1D_JAX_PRECISION``; ``"float32"``.
Importing the package changes nothing.

**The reduced settings round the operands explicitly** (`emulate`, which every layer calls on each operand of
its products while the program is traced), on every backend:

* XLA:CPU ignores ``jax_default_matmul_precision`` (checked: 'bfloat16', 'tensorfloat32' and 'BF16_BF16_F32'
  all give bitwise float32 products), so on a CPU the rounding *is* the reduced arithmetic: an emulation, there
  to measure the accuracy effect of a setting without the hardware. It costs CPU time.
* On an accelerator it pins the format: JAX's ``'bfloat16'`` is ``Precision.DEFAULT``, which NVIDIA GPUs run as
  TF32 (JAX's own documentation), so without the rounding "bf16" would be TF32 there. Products of operands
  already rounded are exact in TF32 and float32 arithmetic (bfloat16 and TF32 values are TF32 values; 8 x 8 and
  11 x 11 significant bits fit float32's 24) and, for bf16, in a TPU's one bfloat16 pass, so a setting computes
  the same products there as on a CPU, up to summation order. (A TPU's ``'tensorfloat32'`` is three bfloat16
  passes, which drop a term of relative size ~2^-16 of tf32 operands.) Not yet checked on an accelerator: none
  was available to this project.

What is and is not rounded: the operands of the forward products (activations, weights, a recurrent state).
The derivative is straight-through (the rounding's tangent is the identity), so the cotangents flowing
backwards are not rounded; on a CPU the backward products are therefore full float32 where reduced-precision
hardware would round them too, and the emulation slightly *understates* the hardware's effect. Only float32
arrays are rounded (JAX's setting concerns 32-bit inputs).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from mnist1d_jax.runtime.backend import on_cpu

ENV_VAR = "MNIST1D_JAX_PRECISION"
NAMES = ("float32", "tf32", "bf16")
JAX_NAMES = {"float32": "float32", "tf32": "tensorfloat32", "bf16": "bfloat16"}
MANTISSA_BITS = {"float32": 23, "tf32": 10, "bf16": 7}  # explicitly stored bits of the operands
BACKEND_DEFAULT = "backend default"

# JAX's values (legacy levels and dot-algorithm presets) that mean one of our settings, for `current`.
_FROM_JAX = {"float32": "float32", "highest": "float32", "F32_F32_F32": "float32",
             "tensorfloat32": "tf32", "high": "tf32", "TF32_TF32_F32": "tf32",
             "bfloat16": "bf16", "BF16_BF16_F32": "bf16"}

# Relative tolerance of a model-sized computation under a setting against a float32 reference: float32's is
# the suite's long-standing 1e-5 (summation order only); the reduced ones are about 20 roundings of their unit
# roundoff (2^-11 ~ 4.9e-4, 2^-8 ~ 3.9e-3), what a few layers of products accumulate.
_TOLERANCE = {"float32": 1e-5, "tf32": 1e-2, "bf16": 5e-2}

def _checked(name, source: str) -> str:
    if name not in NAMES:
        raise ValueError(f"{source}={name!r} is not a matmul precision: use one of {', '.join(NAMES)}")
    return name


def resolve(name: str | None = None) -> str:
    """The setting's validated name: ``name``; else the one in effect (`current`) if it is one of ours (an
    enclosing ``use_precision``, ``set_precision``); else ``$MNIST1D_JAX_PRECISION``; else ``"float32"``. A bad
    name is a one-line ``ValueError``."""
    if name is not None:
        return _checked(name, "precision")
    in_effect = current()
    if in_effect in NAMES:
        return in_effect
    env = os.environ.get(ENV_VAR, "").strip()
    return _checked(env, f"${ENV_VAR}") if env else "float32"


def set_precision(name: str | None = None) -> str:
    """Make ``resolve(name)`` the process's setting (``jax.config.update("jax_default_matmul_precision", ...)``,
    so also the default of every config whose ``precision`` is None); returns the name. The CLI calls it first
    thing; the library never does on its own."""
    name = resolve(name)
    jax.config.update("jax_default_matmul_precision", JAX_NAMES[name])
    return name


@contextlib.contextmanager
def use_precision(name: str | None = None) -> Iterator[str]:
    """Trace and run under ``resolve(name)`` inside the block (``jax.default_matmul_precision``); yields the name.

    JAX keeps the setting in every ``jax.jit``'s cache key and applies it when a program is lowered, so enter the
    block around the call of a jitted function: a program traced under another setting is compiled anew.
    """
    name = resolve(name)
    with jax.default_matmul_precision(JAX_NAMES[name]):
        yield name


def current() -> str:
    """Our name for the setting in effect now (at trace time: the one a program is being traced under).

    ``"backend default"`` when JAX's setting is unset (or ``'default'``): exact float32 on a CPU, TF32 on NVIDIA
    GPUs since Ampere, one bfloat16 pass on a TPU. A JAX value that is none of ours reads ``"jax:<value>"``.
    """
    value = jax.config.jax_default_matmul_precision
    if value is None or value == "default":
        return BACKEND_DEFAULT
    return _FROM_JAX.get(value, f"jax:{value}")


def round_mantissa(x: jax.Array, bits: int) -> jax.Array:
    """float32 ``x`` rounded to ``bits`` stored mantissa bits, to nearest with ties to even (same shape; inf and
    nan unchanged; a finite value past the format's largest becomes inf, as a conversion would).

    Bit arithmetic on the uint32 pattern, not ``astype(bfloat16)``: XLA may remove a float32 -> bfloat16 ->
    float32 round trip where it allows excess precision (``xla_allow_excess_precision``, on by default), which
    would silently undo the rounding. (On this CPU both agree bit for bit, tested.)
    """
    drop = 23 - bits
    if drop <= 0:
        return x
    u = lax.bitcast_convert_type(x, jnp.uint32)
    lsb = (u >> np.uint32(drop)) & np.uint32(1)  # the last kept bit: a tie goes to the even neighbour
    u = (u + np.uint32((1 << (drop - 1)) - 1) + lsb) & np.uint32((0xFFFFFFFF << drop) & 0xFFFFFFFF)
    # A carry out of the mantissa moves into the exponent, which is the right next value (or inf at the top);
    # nan's payload could round to inf, hence the guard.
    return jnp.where(jnp.isfinite(x), lax.bitcast_convert_type(u, jnp.float32), x)


def emulate(x: jax.Array) -> jax.Array:
    """One operand of a model's matrix product or convolution, in the format of the setting in effect.

    ``x`` itself (the same array or tracer, no operation added) under float32, under the backend default or for
    a non-float32 ``x``; under tf32 / bf16 ``x`` rounded to 10 / 7 mantissa bits (`round_mantissa`), with a
    straight-through derivative: ``x + stop_gradient(rounded - x)``, whose tangent is the identity (linear, so it
    works in reverse mode, under ``vmap`` and inside ``custom_jvp`` rules). Same shape and dtype as ``x``.
    """
    bits = MANTISSA_BITS.get(current(), 23)
    if bits >= 23 or jnp.result_type(x) != jnp.float32:
        return x
    x = jnp.asarray(x)
    # rounded - x is exact (the two are within a unit of each other), so x + delta is the rounded value; inf and
    # nan keep delta 0 (inf - inf would be nan).
    delta = jnp.where(jnp.isfinite(x), round_mantissa(x, bits) - x, 0.0)
    return x + lax.stop_gradient(delta)


def tolerance(name: str | None = None) -> float:
    """Relative tolerance for comparing a model-sized computation under ``name`` (default: the setting in effect,
    `current`) with its float32 reference: float32 1e-5, tf32 1e-2, bf16 5e-2. Under the backend default: on a
    CPU float32's (it is exact there), elsewhere bf16's (a TPU's default is one bfloat16 pass)."""
    if name is None:
        name = current()
        if name not in _TOLERANCE:
            name = "float32" if on_cpu() else "bf16"
    return _TOLERANCE[resolve(name)]


__all__ = ["BACKEND_DEFAULT", "ENV_VAR", "JAX_NAMES", "MANTISSA_BITS", "NAMES", "current", "emulate", "resolve",
           "round_mantissa", "set_precision", "tolerance", "use_precision"]
