"""The outer loop of a bilevel problem: outer steps as one ``lax.scan``, vmappable over runs, and its host driver.

* `make_outer_scan(meta_loss, optimizer, num_steps)`: pure, jit-able and vmappable over seeds and initial values
  (the meta-loss receives a per-run ``context``); ``clip`` clips the meta-gradient elementwise; ``mode`` an
  `Estimator` (``meta.estimators``) replaces the meta-loss, its state and key carried in the `OuterState`.
* `run_outer(...)`: runs the scan in jitted chunks (progress bars, checkpoints between chunks) and raises
  `NonFiniteMetaGradient` naming the outer step whose meta-gradient or meta-loss was NaN or Inf.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.flatten_util
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax.core.parallel import spread_leading, take_leading
from mnist1d_jax.meta.estimators import Estimator
from mnist1d_jax.meta.inner import ScaledGrad, _max_abs, clip_scaled

PyTree = Any


# ----------------------------------------------------------------------------------------------------------------
# the outer loop
class OuterState(NamedTuple):
    """Carry of the outer scan. ``bad_step`` is the first outer step whose meta-gradient was not finite (−1:
    none); from then on the meta-parameters are frozen so that the error report is about the true first one.
    ``best_meta`` is the iterate with the lowest meta-objective seen so far (``best_value``, at outer step
    ``best_step``): the meta-objective is computed anyway, so keeping its best iterate costs one copy of meta
    and selects without touching any held-out data.

    With an `Estimator` as the mode, ``estimator_state`` is its persistent state and ``key`` the raw key data
    (``jax.random.key_data``, uint32) that outer step s's key is folded from (``fold_in(key, s)``); with the
    built-in modes both are ``()``, which has no leaves, so their states are leaf for leaf what they were."""

    step: jax.Array
    meta: PyTree
    opt_state: PyTree
    bad_step: jax.Array
    best_meta: PyTree
    best_value: jax.Array
    best_step: jax.Array
    estimator_state: PyTree = ()
    key: PyTree = ()


class NonFiniteMetaGradient(FloatingPointError):
    """A meta-gradient (or meta-loss) became NaN or Inf."""


def outer_init(optimizer: optax.GradientTransformation, meta: PyTree, *, estimator: Estimator | None = None,
               context: PyTree = None, key: jax.Array | None = None) -> OuterState:
    """The state before the first outer step. With an `estimator`, `key` (typed or raw, one run's) is split
    into the key of ``estimator.init(meta, context, ·)`` and the one the outer steps' keys are folded from."""
    minus_one = jnp.full((), -1, jnp.int32)
    state = OuterState(jnp.zeros((), jnp.int32), meta, optimizer.init(meta), minus_one, meta,
                       jnp.full((), jnp.inf, jnp.float32), minus_one)
    if estimator is None:
        return state
    if key is None:
        raise ValueError("outer_init: an Estimator needs key= (a jax.random.key per run)")
    typed = key if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else jax.random.wrap_key_data(key)
    init_key, steps_key = jax.random.split(typed)
    # raw key data: a plain uint32 leaf that np.asarray, stores and cross-process gathers all take
    return state._replace(estimator_state=estimator.init(meta, context, init_key),
                          key=jax.random.key_data(steps_key))


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
    mode: str | Callable | Estimator = "reverse",
    loss_scale: float = 1.0,
) -> Callable[[OuterState, PyTree], tuple[OuterState, dict]]:
    """``scan(state, context) -> (state, metrics)``: `num_steps` outer steps as one `lax.scan`.

    `meta_loss(meta, context) -> (value, aux)` is the objective, differentiated with `value_and_grad`;
    `context` is whatever varies between runs (keys, data, fixed inits), so ``jax.vmap(scan)`` over states and
    contexts runs many seeds / initial values at once. `clip` clips the meta-gradient elementwise to
    ``[-clip, clip]`` before `optimizer`. ``mode="forward"`` computes the meta-gradient by forward mode
    (`value_and_grad_forward`; exact, for few meta-parameters); a callable ``mode(meta, context) -> ((value,
    aux), grad)`` supplies a hand-written one (e.g. a fused forward-mode unroll, or `unroll_value_and_grad`,
    whose `ScaledGrad` is clipped exactly however large it is). An `Estimator` as `mode` (pass ``meta_loss=None``:
    it holds the inner problem) estimates it instead, from the state's ``estimator_state`` and the key
    ``fold_in(state.key, state.step)`` (start from ``outer_init(..., estimator=, context=, key=)``); on the first
    non-finite step its state freezes with the meta-parameters, and ``best_meta`` follows the estimator's
    ``value`` (noisy for ES, one window's share for the online ones). ``metrics`` are stacked over
    steps: ``value`` and ``aux`` (before the update), ``grad_norm`` (before clipping), ``finite`` and
    ``record(meta)`` after the update (default: meta).
    """
    record = record or (lambda m: m)
    estimator = mode if isinstance(mode, Estimator) else None
    if estimator is not None and meta_loss is not None:
        raise ValueError("make_outer_scan: with an Estimator as mode pass meta_loss=None (the estimator holds the "
                         "inner problem)")
    if estimator is not None and loss_scale != 1.0:
        raise ValueError("loss_scale applies to the built-in modes only; an Estimator returns its own gradient "
                         "(exact(overflow_safe=True) for a ScaledGrad)")
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
    if estimator is not None:
        grad_fn = None
    elif callable(mode):
        grad_fn = mode
    elif mode == "reverse":
        grad_fn = jax.value_and_grad(meta_loss, has_aux=True)
    elif mode == "forward":
        grad_fn = value_and_grad_forward(meta_loss)
    else:
        raise ValueError(f"mode must be 'reverse', 'forward' or a value-and-grad function, not {mode!r}")

    def one(state: OuterState, context):
        if estimator is None:
            (value, aux), grad = grad_fn(state.meta, context)
            est_state = state.estimator_state  # () for these modes: nothing is added to the carry
        else:
            key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
            (value, aux), grad, est_state = estimator.grad(state.meta, state.estimator_state, context, key)
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
                         best(state.step, state.best_step), keep(est_state, state.estimator_state), state.key)
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
    mode: str | Callable | Estimator = "reverse",
    loss_scale: float = 1.0,
    compiler_options: dict | None = None,
    key: jax.Array | None = None,
) -> tuple[OuterState, dict]:
    """Run `num_steps` outer steps (from `state` if resuming) in jitted chunks of `chunk` steps.

    With ``vmap=True`` every leaf of `meta` and `context` has a leading run axis R (seeds, initial values);
    metrics are then ``[R, num_steps, ...]``. Between chunks the host checks for non-finite meta-gradients
    (raising `NonFiniteMetaGradient` with the outer step) and calls ``on_chunk(state, metrics_so_far)``
    (progress bar, checkpoint). Only two programs are compiled: the chunk and, if `chunk` does not divide the
    remaining steps, the shorter last chunk. `compiler_options` go to `jax.jit` (XLA options for this program).
    With an `Estimator` as `mode` pass ``meta_loss=None`` and `key` (``[R]`` keys with ``vmap=True``) unless
    resuming from `state`, which carries the estimator's state and key.
    """
    for name, value, lowest in (("num_steps", num_steps, 1), ("chunk", chunk, 1)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < lowest):
            raise ValueError(f"run_outer: {name}={value!r} must be an integer >= {lowest}")
    if clip is not None and not (isinstance(clip, (int, float)) and np.isfinite(clip) and clip > 0):
        raise ValueError(f"run_outer: clip={clip!r} must be a finite number > 0")
    estimator = mode if isinstance(mode, Estimator) else None
    if estimator is None and key is not None:
        raise ValueError("run_outer: key= is used with an Estimator mode only")
    if estimator is not None and state is None and key is None:
        raise ValueError("run_outer: an Estimator mode needs key= (one jax.random.key per run)")
    if state is None and estimator is not None:
        init = lambda m, c, k: outer_init(optimizer, m, estimator=estimator, context=c, key=k)  # noqa: E731
        state = (jax.vmap(init) if vmap else init)(meta, context, key)
    elif state is None:
        init = jax.vmap(outer_init, in_axes=(None, 0)) if vmap else outer_init
        state = init(optimizer, meta)
    done = int(np.asarray(state.step).reshape(-1)[0])  # read before the state becomes a global array
    n_runs = None
    if vmap:  # split the runs over the devices (all CPU cores after use_cpu_cores(); several GPUs; hosts)
        (state, context), n_runs = spread_leading((state, context))
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
        # Gathered from every process when many take part (take_leading), then on the host.
        metrics = jax.device_get(take_leading(metrics, n_runs) if vmap else metrics)
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
