"""The inner run of a bilevel problem: a differentiable ``lax.scan`` of an inner optimiser step.

* `unroll(step, state, batches, meta)`: ``step(meta, state, batch) -> (state, loss)`` scanned over pre-drawn
  batches ``[T, ...]``; `jax.grad` goes through all of it (``jax.checkpoint`` on the step keeps memory flat).
* `make_inner_step` / `sgd`: the inner step from a minibatch loss ``loss(meta, params, batch)``.
* `positive` / `unit_interval`: constrained meta-parameters kept in an unconstrained space (log / logit).
* `unroll_value_and_grad` / `ScaledGrad` / `clip_scaled`: the exact meta-gradient of a chaotic unroll whose
  true value exceeds float32's range, held as mantissa times a power of two.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

PyTree = Any


# ----------------------------------------------------------------------------------------------------------------
# constrained meta-parameters
class Reparam(NamedTuple):
    """A bijection between a constrained value and the unconstrained one that the outer optimiser moves."""

    to_unconstrained: Callable[[jax.Array], jax.Array]
    to_constrained: Callable[[jax.Array], jax.Array]


# log for positive values (learning rates, weight decays, scales); logit for values in (0, 1) (momentum, decay)
positive = Reparam(jnp.log, jnp.exp)
unit_interval = Reparam(jax.scipy.special.logit, jax.nn.sigmoid)
identity = Reparam(lambda v: v, lambda u: u)


# ----------------------------------------------------------------------------------------------------------------
# the inner run
def make_inner_step(
    loss_fn: Callable[[PyTree, PyTree, PyTree], jax.Array],
    update_fn: Callable[[PyTree, PyTree, PyTree, PyTree], tuple[PyTree, PyTree]],
) -> Callable:
    """``step(meta, (params, opt_state), batch) -> ((params, opt_state), loss)``, for `unroll`.

    `loss_fn(meta, params, batch)` is the minibatch loss (scalar); `update_fn(meta, params, grads, opt_state)`
    returns the new ``(params, opt_state)``. Both may depend on `meta` anywhere: the meta-gradient then flows
    through the inner gradient as well (second order terms kept).
    """

    def step(meta, state, batch):
        params, opt_state = state
        loss, grads = jax.value_and_grad(loss_fn, argnums=1)(meta, params, batch)
        params, opt_state = update_fn(meta, params, grads, opt_state)
        return (params, opt_state), loss

    return step


def sgd(learning_rate: Callable[[PyTree], jax.Array]) -> Callable:
    """Plain SGD ``θ ← θ − lr(meta)·∇`` as an `update_fn` (its optimiser state is ``()``)."""

    def update(meta, params, grads, opt_state):
        lr = learning_rate(meta)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads), opt_state

    return update


def unroll(
    step: Callable,
    state: PyTree,
    batches: PyTree,
    meta: PyTree,
    *,
    checkpoint: bool = True,
    truncation: int | None = None,
) -> tuple[PyTree, jax.Array]:
    """Run ``step(meta, state, batch) -> (state, loss)`` over ``batches`` (leading axis T).

    Returns ``(final_state, losses [T])``. With ``truncation=K`` (K divides T) the gradient of later losses
    with respect to the *state* is stopped every K steps; meta-parameters still receive gradient from every
    step (truncated backprop through time, cheaper and lower variance, biased).
    """
    body = (lambda s, b: step(meta, s, b))
    if checkpoint:
        body = jax.checkpoint(body)
    if truncation is None:
        return jax.lax.scan(body, state, batches)
    num_steps = jax.tree.leaves(batches)[0].shape[0]
    if num_steps % truncation:
        raise ValueError(f"truncation {truncation} must divide the number of inner steps {num_steps}")
    chunks = jax.tree.map(lambda a: a.reshape(num_steps // truncation, truncation, *a.shape[1:]), batches)

    def segment(s, chunk):
        return jax.lax.scan(body, jax.lax.stop_gradient(s), chunk)

    state, losses = jax.lax.scan(segment, state, chunks)
    return state, losses.reshape(num_steps)


# ----------------------------------------------------------------------------------------------------------------
# meta-gradients too large for float32
class ScaledGrad(NamedTuple):
    """A meta-gradient held as ``mantissa · 2**exponent`` (``exponent`` a scalar int32, ``mantissa`` like meta).

    Backprop through a long chaotic unroll multiplies the state cotangent by the step Jacobian at every step, and
    the true meta-gradient can exceed float32's range (~2¹²⁸) although the *clipped* gradient the outer
    optimiser uses is perfectly well defined. `unroll_value_and_grad` returns this form; `make_outer_scan`
    clips it exactly without ever forming the overflowing number.
    """

    mantissa: PyTree
    exponent: jax.Array


RENORMALIZE_ABOVE = 2.0**32  # cotangents are rescaled by a power of two once they grow past this


def _max_abs(tree) -> jax.Array:
    return jnp.max(jnp.stack([jnp.max(jnp.abs(x)) for x in jax.tree.leaves(tree)]))


def unroll_value_and_grad(
    step: Callable,
    state: PyTree,
    batches: PyTree,
    meta: PyTree,
    weights: jax.Array,
    final_objective: Callable[[PyTree, PyTree], jax.Array] | None = None,
) -> tuple[tuple[jax.Array, tuple[PyTree, jax.Array]], ScaledGrad]:
    """The meta-loss ``Σ_t weights[t]·loss_t`` of an unrolled run and its exact gradient, overflow-free.

    The same inner run as `unroll` (``step(meta, state, batch) -> (state, loss)`` over ``batches`` [T, ...]),
    but reverse mode is written out as a reverse `lax.scan` with one `jax.vjp` of the step per inner step
    (the step is recomputed there, as `jax.checkpoint` would; one carry per step is stored). After each step
    the state cotangent and the accumulated meta-gradient are divided by the same power of two whenever they
    exceed `RENORMALIZE_ABOVE`, and the exponent is carried along: powers of two are exact, so the result is
    the true gradient up to float32 rounding, however large, returned as `ScaledGrad`. Loss cotangents of
    earlier steps enter at the current scale (``weights[t]·2⁻ᵉ``; they underflow to 0 only when they are below
    2⁻¹⁴⁹ of the running total, where they cannot change a float32 sum).

    With ``final_objective(meta, final_state) -> scalar`` (a held-out objective of the trained state) the
    meta-loss is ``Σ_t weights[t]·loss_t + final_objective(meta, final)``: the backward scan then starts from
    that objective's cotangents instead of zeros.

    Returns ``((value, (final_state, losses [T])), ScaledGrad)``, shaped like ``jax.value_and_grad(...,
    has_aux=True)``'s result.
    """

    def forward(s, b):
        s_next, loss = step(meta, s, b)
        return s_next, (s, loss)

    final, (states, losses) = jax.lax.scan(forward, state, batches)
    value = jnp.sum(weights * losses)

    def backward(carry, inputs):
        state_ct, meta_ct, exponent = carry
        s, b, w = inputs
        _, vjp = jax.vjp(lambda m, s_: step(m, s_, b), meta, s)
        loss_ct = (w * jnp.exp2(-exponent.astype(jnp.float32))).astype(losses.dtype)
        m_ct, state_ct = vjp((state_ct, loss_ct))
        meta_ct = jax.tree.map(jnp.add, meta_ct, m_ct)
        top = jnp.maximum(_max_abs(state_ct), _max_abs(meta_ct))
        shift = jnp.where(top > RENORMALIZE_ABOVE, jnp.frexp(top)[1], 0).astype(jnp.int32)
        rescale = lambda t: jax.tree.map(lambda x: jnp.ldexp(x, -shift), t)  # noqa: E731 (exact)
        return (rescale(state_ct), rescale(meta_ct), exponent + shift), None

    zeros = lambda t: jax.tree.map(jnp.zeros_like, t)  # noqa: E731
    if final_objective is None:
        carry = (zeros(final), zeros(meta), jnp.zeros((), jnp.int32))
    else:
        held_out, vjp = jax.vjp(final_objective, meta, final)
        value = value + held_out
        meta_ct0, state_ct0 = vjp(jnp.ones_like(held_out))
        # start at the scale the cotangents need (the objective's own gradient can be large too)
        top = jnp.maximum(_max_abs(state_ct0), _max_abs(meta_ct0))
        shift = jnp.where(top > RENORMALIZE_ABOVE, jnp.frexp(top)[1], 0).astype(jnp.int32)
        rescale = lambda t: jax.tree.map(lambda x: jnp.ldexp(x, -shift), t)  # noqa: E731 (exact)
        carry = (rescale(state_ct0), rescale(meta_ct0), shift)
    (_, meta_ct, exponent), _ = jax.lax.scan(backward, carry, (states, batches, weights), reverse=True)
    return (value, (final, losses)), ScaledGrad(meta_ct, exponent)


def clip_scaled(grad: ScaledGrad, clip: float) -> PyTree:
    """Elementwise ``clip(mantissa·2**exponent, -clip, clip)`` without forming the (possibly infinite) product."""
    def one(m):
        big = jnp.abs(m) >= jnp.ldexp(jnp.asarray(clip, m.dtype), -grad.exponent)  # |g| ≥ clip
        small = jnp.ldexp(jnp.where(big, 0.0, m), grad.exponent)
        return jnp.where(big, jnp.sign(m) * clip, small)

    return jax.tree.map(one, grad.mantissa)
