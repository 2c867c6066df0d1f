"""Unrolled, differentiable inner training runs and a scanned outer loop: a small bilevel library.

The pieces, each a pure function (habit 6 of STYLE.md, after learned_optimization and optax's meta_learning
example):

* `unroll(step, state, batches, meta)`: the inner run, a `lax.scan` of ``step(meta, state, batch) ->
  (state, loss)`` over pre-drawn batches ``[T, ...]`` (any pytree with a leading time axis). `jax.grad`
  goes through the whole run; ``checkpoint=True`` (default) wraps the step in `jax.checkpoint`, so reverse
  mode stores only the carry per step and memory grows with T by one carry, not by every activation;
  ``truncation=K`` cuts the meta-gradient every K steps (truncated backprop through time).
* `sgd` / `make_inner_step`: the inner optimiser step from a loss ``loss(meta, params, batch)``.
* `positive` / `unit_interval`: constrained meta-parameters in an unconstrained space (log / logit).
* `unroll_value_and_grad(step, state, batches, meta, weights)`: the unroll's weighted loss and its exact
  meta-gradient by an explicit reverse scan that renormalises cotangents by powers of two, returned as
  `ScaledGrad` (mantissa, exponent): for chaotic unrolls whose true meta-gradient exceeds float32's range.
* `make_outer_scan(meta_loss, optimizer, ...)`: ``num_steps`` outer steps as one `lax.scan`, pure and
  vmappable over seeds and initial values (the meta-loss gets a per-run ``context``);
  ``clip`` clips the meta-gradient elementwise.
* `run_outer(...)`: the host driver that runs the outer scan in chunks (progress bars, checkpoints) and
  raises `NonFiniteMetaGradient` naming the outer step if a meta-gradient or meta-loss is NaN/Inf.

Example (learning a weight decay): see README.md, "Metalearning your own hyperparameter".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax.devices import spread_leading, take_leading

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
    carry = (zeros(final), zeros(meta), jnp.zeros((), jnp.int32))
    (_, meta_ct, exponent), _ = jax.lax.scan(backward, carry, (states, batches, weights), reverse=True)
    return (value, (final, losses)), ScaledGrad(meta_ct, exponent)


def clip_scaled(grad: ScaledGrad, clip: float) -> PyTree:
    """Elementwise ``clip(mantissa·2**exponent, -clip, clip)`` without forming the (possibly infinite) product."""
    def one(m):
        big = jnp.abs(m) >= jnp.ldexp(jnp.asarray(clip, m.dtype), -grad.exponent)  # |g| ≥ clip
        small = jnp.ldexp(jnp.where(big, 0.0, m), grad.exponent)
        return jnp.where(big, jnp.sign(m) * clip, small)

    return jax.tree.map(one, grad.mantissa)


# ----------------------------------------------------------------------------------------------------------------
# the outer loop
class OuterState(NamedTuple):
    """Carry of the outer scan. ``bad_step`` is the first outer step whose meta-gradient was not finite (−1:
    none); from then on the meta-parameters are frozen so that the error report is about the true first one.
    ``best_meta`` is the iterate with the lowest meta-objective seen so far (``best_value``, at outer step
    ``best_step``): the meta-objective is computed anyway, so keeping its best iterate costs one copy of meta
    and selects without touching any held-out data."""

    step: jax.Array
    meta: PyTree
    opt_state: PyTree
    bad_step: jax.Array
    best_meta: PyTree
    best_value: jax.Array
    best_step: jax.Array


class NonFiniteMetaGradient(FloatingPointError):
    """A meta-gradient (or meta-loss) became NaN or Inf."""


def outer_init(optimizer: optax.GradientTransformation, meta: PyTree) -> OuterState:
    minus_one = jnp.full((), -1, jnp.int32)
    return OuterState(jnp.zeros((), jnp.int32), meta, optimizer.init(meta), minus_one, meta,
                      jnp.full((), jnp.inf, jnp.float32), minus_one)


def value_and_grad_forward(meta_loss: Callable) -> Callable:
    """Like ``jax.value_and_grad(meta_loss, has_aux=True)`` but by forward mode: one `jax.jvp` per meta-parameter.

    Exact, and for a handful of scalar meta-parameters (a learning rate, a weight decay) cheaper than reverse
    mode through a long unroll, with memory independent of its length (nothing is stored for a backward pass).
    """

    def vg(meta, context):
        flat, unravel = jax.flatten_util.ravel_pytree(meta)
        f = lambda v: meta_loss(unravel(v), context)
        basis = jnp.eye(flat.size, dtype=flat.dtype)
        value, tangents, aux = jax.vmap(lambda t: jax.jvp(f, (flat,), (t,), has_aux=True),
                                        out_axes=(None, 0, None))(basis)
        return (value, aux), unravel(tangents)

    return vg


def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _safe_norm(tree) -> jax.Array:
    """Euclidean norm that neither underflows (squares of scaled gradients) nor overflows: max·‖g/max‖."""
    top = _max_abs(tree)
    safe = jnp.where(top > 0, top, 1.0)
    return top * jnp.sqrt(sum(jnp.sum(jnp.square(x / safe)) for x in jax.tree.leaves(tree)))


def make_outer_scan(
    meta_loss: Callable[[PyTree, PyTree], tuple[jax.Array, PyTree]],
    optimizer: optax.GradientTransformation,
    num_steps: int,
    *,
    clip: float | None = None,
    record: Callable[[PyTree], PyTree] | None = None,
    mode: str | Callable = "reverse",
    loss_scale: float = 1.0,
) -> Callable[[OuterState, PyTree], tuple[OuterState, dict]]:
    """``scan(state, context) -> (state, metrics)``: `num_steps` outer steps as one `lax.scan`.

    `meta_loss(meta, context) -> (value, aux)` is the objective, differentiated with `value_and_grad`;
    `context` is whatever varies between runs (keys, data, fixed inits), so ``jax.vmap(scan)`` over states and
    contexts runs many seeds / initial values at once. `clip` clips the meta-gradient elementwise to
    ``[-clip, clip]`` before `optimizer`. ``mode="forward"`` computes the meta-gradient by forward mode
    (`value_and_grad_forward`; exact, for few meta-parameters); a callable ``mode(meta, context) -> ((value,
    aux), grad)`` supplies a hand-written one (e.g. a fused forward-mode unroll, or `unroll_value_and_grad`,
    whose `ScaledGrad` is clipped exactly however large it is). ``metrics`` are stacked over
    steps: ``value`` and ``aux`` (before the update), ``grad_norm`` (before clipping), ``finite`` and
    ``record(meta)`` after the update (default: meta).
    """
    record = record or (lambda m: m)
    if loss_scale != 1.0:
        # Differentiate loss_scale·meta_loss (a power of two, so exact): a chaotic unroll can make the true
        # meta-gradient exceed float32's range (backprop through time multiplies the state cotangent by the
        # step Jacobian ~300 times) although the clipped gradient the outer optimiser uses is perfectly
        # defined; scaling down keeps the backward pass in range, and clipping happens in the scaled space.
        # A fixed scale only moves the limit; `unroll_value_and_grad` (as `mode=`) removes it.
        if callable(mode):
            raise ValueError("loss_scale applies to the built-in modes only; a hand-written mode returns its own "
                             "(e.g. ScaledGrad) gradient")
        unscaled = meta_loss

        def meta_loss(meta, context):
            value, aux = unscaled(meta, context)
            return value * loss_scale, aux
    if callable(mode):
        grad_fn = mode
    elif mode == "reverse":
        grad_fn = jax.value_and_grad(meta_loss, has_aux=True)
    elif mode == "forward":
        grad_fn = value_and_grad_forward(meta_loss)
    else:
        raise ValueError(f"mode must be 'reverse', 'forward' or a value-and-grad function, not {mode!r}")

    def one(state: OuterState, context):
        (value, aux), grad = grad_fn(state.meta, context)
        scaled = grad if isinstance(grad, ScaledGrad) else ScaledGrad(grad, jnp.zeros((), jnp.int32))
        finite = _all_finite(scaled.mantissa) & jnp.isfinite(value)
        norm = _safe_norm(scaled.mantissa)
        log10_norm = jnp.log10(norm) + scaled.exponent * np.log10(2.0) - np.log10(loss_scale)
        grad_norm = jnp.ldexp(norm, scaled.exponent) / loss_scale  # inf beyond float32; log10_norm is exact
        value = value / loss_scale
        if clip is not None:
            grad = clip_scaled(scaled, clip * loss_scale)
        else:
            grad = jax.tree.map(lambda g: jnp.ldexp(g, scaled.exponent), scaled.mantissa)
        grad = jax.tree.map(lambda g: g / loss_scale, grad)
        finite = finite & _all_finite(grad)
        updates, opt_state = optimizer.update(grad, state.opt_state, state.meta)
        meta = optax.apply_updates(state.meta, updates)
        # freeze at the first bad step: later curves stay finite and the report names the true culprit
        ok = finite & (state.bad_step < 0)
        keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)
        bad_step = jnp.where((state.bad_step < 0) & ~finite, state.step, state.bad_step)
        better = ok & (value < state.best_value)  # `value` is the objective of state.meta, before the update
        best = lambda new, old: jax.tree.map(lambda n, o: jnp.where(better, n, o), new, old)  # noqa: E731
        new = OuterState(state.step + 1, keep(meta, state.meta), keep(opt_state, state.opt_state), bad_step,
                         best(state.meta, state.best_meta), best(value.astype(jnp.float32), state.best_value),
                         best(state.step, state.best_step))
        # for the error report: is the meta-loss finite, and how many meta-gradient entries are not
        nonfinite = sum(jnp.sum(~jnp.isfinite(g)) for g in jax.tree.leaves(grad))
        metrics = {"value": value, "aux": aux, "grad_norm": grad_norm, "finite": finite, "record": record(new.meta),
                   "value_finite": jnp.isfinite(value), "grad_nonfinite": nonfinite, "grad_log10_norm": log10_norm}
        return new, metrics

    def scan(state: OuterState, context):
        return jax.lax.scan(lambda s, _: one(s, context), state, None, length=num_steps)

    return scan


def check_finite(state: OuterState, labels: list[str] | None = None, metrics: dict | None = None,
                 first_step: int = 0) -> None:
    """Raise `NonFiniteMetaGradient` naming the outer step (and run) whose meta-gradient was NaN/Inf.

    With the chunk's `metrics` (steps ``first_step...``) the message also says whether the meta-loss itself was
    finite and how many meta-gradient entries were not."""
    bad = np.atleast_1d(np.asarray(state.bad_step))
    if np.any(bad >= 0):
        runs = np.flatnonzero(bad >= 0)

        def detail(i):
            if metrics is None or "grad_nonfinite" not in metrics:
                return ""
            t = int(bad[i]) - first_step
            pick = (lambda a: np.asarray(a)[i, t]) if bad.size > 1 or np.ndim(state.bad_step) else (
                lambda a: np.asarray(a)[t])
            if not 0 <= t < np.shape(metrics["grad_nonfinite"])[-1]:
                return ""
            return (f" (meta-loss {'finite' if pick(metrics['value_finite']) else 'NOT finite'}, "
                    f"{int(pick(metrics['grad_nonfinite']))} non-finite meta-gradient entries)")

        where = ", ".join(
            f"outer step {int(bad[i])}" + (f" of run {labels[i] if labels else i}" if bad.size > 1 else "")
            + detail(i) for i in runs
        )
        raise NonFiniteMetaGradient(f"non-finite meta-gradient or meta-loss at {where}; stopping")


def run_outer(
    meta_loss: Callable,
    optimizer: optax.GradientTransformation,
    meta: PyTree,
    context: PyTree,
    num_steps: int,
    *,
    chunk: int | None = None,
    clip: float | None = None,
    record: Callable | None = None,
    vmap: bool = False,
    state: OuterState | None = None,
    on_chunk: Callable[[OuterState, dict], None] | None = None,
    labels: list[str] | None = None,
    mode: str | Callable = "reverse",
    loss_scale: float = 1.0,
    compiler_options: dict | None = None,
) -> tuple[OuterState, dict]:
    """Run `num_steps` outer steps (from `state` if resuming) in jitted chunks of `chunk` steps.

    With ``vmap=True`` every leaf of `meta` and `context` has a leading run axis R (seeds, initial values);
    metrics are then ``[R, num_steps, ...]``. Between chunks the host checks for non-finite meta-gradients
    (raising `NonFiniteMetaGradient` with the outer step) and calls ``on_chunk(state, metrics_so_far)``
    (progress bar, checkpoint). Only two programs are compiled: the chunk and, if `chunk` does not divide the
    remaining steps, the shorter last chunk. `compiler_options` go to `jax.jit` (XLA options for this program).
    """
    init = jax.vmap(outer_init, in_axes=(None, 0)) if vmap else outer_init
    state = init(optimizer, meta) if state is None else state
    n_runs = None
    if vmap:  # split the runs over the devices (all CPU cores after use_cpu_cores(); several GPUs)
        (state, context), n_runs = spread_leading((state, context))
    done = int(np.asarray(state.step).reshape(-1)[0])
    remaining = num_steps - done
    chunk = remaining if chunk is None else chunk
    compiled: dict[int, Callable] = {}
    pieces: list[dict] = []
    while remaining > 0:
        n = min(chunk, remaining)
        if n not in compiled:
            scan = make_outer_scan(meta_loss, optimizer, n, clip=clip, record=record, mode=mode,
                                   loss_scale=loss_scale)
            compiled[n] = jax.jit(jax.vmap(scan) if vmap else scan, compiler_options=compiler_options)
        first = num_steps - remaining
        state, metrics = compiled[n](state, context)
        metrics = jax.device_get(metrics)
        if vmap:
            metrics = take_leading(metrics, n_runs)
        check_finite(_runs(state, n_runs), labels, metrics, first)
        pieces.append(metrics)
        remaining -= n
        if on_chunk is not None:
            on_chunk(_runs(state, n_runs), _concat(pieces, vmap))
    return _runs(state, n_runs), _concat(pieces, vmap) if pieces else {}


def _runs(state: OuterState, n_runs: int | None) -> OuterState:
    """The state without `spread_leading`'s padding runs (unchanged when not vmapped)."""
    return state if n_runs is None else take_leading(state, n_runs)


def _concat(pieces: list[dict], vmap: bool) -> dict:
    axis = 1 if vmap else 0
    return jax.tree.map(lambda *xs: np.concatenate(xs, axis=axis), *pieces)
