"""The outer loop of a bilevel problem: outer steps as one ``lax.scan`` of an `Estimator`, and its host driver.

* `outer_init(estimator, optimizer, meta, key, context)`: the state before the first outer step.
* `make_outer_scan(estimator, optimizer, num_steps)`: pure, jit-able and vmappable over seeds; outer step s of
  a run calls the estimator with the key ``fold_in(run key, s)``; ``clip`` clips the meta-gradient elementwise.
* `run_outer(estimator, ...)`: runs the scan in jitted chunks (progress, checkpoints between chunks, resumed bit
  for bit from a `Checkpoint`) and raises `NonFiniteMetaGradient` naming the outer step whose meta-gradient or
  meta-objective was NaN or Inf.

It stays one module because the scan and its host driver are two halves of one contract on `OuterState`: the
scan freezes the meta-parameters at the first non-finite step and keeps the best iterate, and the driver reads
exactly those fields back to report the step, to checkpoint and to resume bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax.core.parallel import spread_leading, take_leading
from mnist1d_jax.meta.estimators import Estimator
from mnist1d_jax.meta.inner import ScaledGrad, _max_abs, clip_scaled
from mnist1d_jax.meta.problem import as_key

PyTree = Any


class OuterState(NamedTuple):
    """Carry of the outer scan. ``bad_step`` is the first outer step whose meta-gradient was not finite (−1:
    none); from then on the meta-parameters are frozen so that the error report is about the true first one.
    ``best_meta`` is the iterate with the lowest meta-objective seen so far (``best_value``, at outer step
    ``best_step``): the meta-objective is computed anyway, so keeping its best iterate costs one copy of meta
    and selects without touching any held-out data. ``estimator_state`` is the estimator's persistent state and
    ``key`` the raw key data (uint32) that outer step s's key is folded from (``fold_in(key, s)``)."""

    step: jax.Array
    meta: PyTree
    opt_state: PyTree
    bad_step: jax.Array
    best_meta: PyTree
    best_value: jax.Array
    best_step: jax.Array
    estimator_state: PyTree
    key: jax.Array


class NonFiniteMetaGradient(FloatingPointError):
    """A meta-gradient (or meta-objective) became NaN or Inf. ``state`` and ``metrics``: the outer state and
    the metrics at the end of the last chunk that finished cleanly (None when none did)."""

    def __init__(self, message: str, state: OuterState | None = None, metrics: dict | None = None):
        super().__init__(message)
        self.state, self.metrics = state, metrics


class Checkpoint(NamedTuple):
    """Where `run_outer` keeps its progress: ``store`` any object with ``get(name, tag)`` / ``put(name, tag,
    value)`` (a study's ``ctx.store``), ``name`` the entry, ``tag`` a JSON-able description of everything that
    determines the run (a saved run is resumed only under the same tag)."""

    store: Any
    name: str
    tag: Any


def _check_estimator(estimator) -> Estimator:
    if not isinstance(estimator, Estimator):
        raise ValueError(f"expected a meta.Estimator (e.g. meta.exact(problem)), not {type(estimator).__name__}")
    return estimator


def outer_init(estimator: Estimator, optimizer: optax.GradientTransformation, meta: PyTree, key,
               context: PyTree = None) -> OuterState:
    """The state before the first outer step of one run: `key` (typed or raw) is split into the key of
    ``estimator.init(meta, ·, context)`` and the one the outer steps' keys are folded from."""
    _check_estimator(estimator)
    init_key, steps_key = jax.random.split(as_key(key))
    minus_one = jnp.full((), -1, jnp.int32)
    # raw key data: a plain uint32 leaf that np.asarray, stores and cross-process gathers all take
    return OuterState(jnp.zeros((), jnp.int32), meta, optimizer.init(meta), minus_one, meta,
                      jnp.full((), jnp.inf, jnp.float32), minus_one, estimator.init(meta, init_key, context),
                      jax.random.key_data(steps_key))


def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


def _safe_norm(tree) -> jax.Array:
    """Euclidean norm that neither underflows (squares of scaled gradients) nor overflows: max·‖g/max‖."""
    top = _max_abs(tree)
    safe = jnp.where(top > 0, top, 1.0)
    return top * jnp.sqrt(sum(jnp.sum(jnp.square(x / safe)) for x in jax.tree.leaves(tree)))


def make_outer_scan(estimator: Estimator, optimizer: optax.GradientTransformation, num_steps: int, *,
                    clip: float | None = None,
                    record: Callable[[PyTree], PyTree] | None = None) -> Callable[[OuterState, PyTree], tuple]:
    """``scan(state, context) -> (state, metrics)``: `num_steps` outer steps of `estimator` as one `lax.scan`.

    `context` is whatever varies between runs and is not learned (data, fixed inits), so ``jax.vmap(scan)``
    over states and contexts runs many seeds at once. Outer step s calls ``estimator.grad`` with the key
    ``fold_in(state.key, s)``. `clip` clips the meta-gradient elementwise to ``[-clip, clip]`` before
    `optimizer` (a `ScaledGrad` exactly, however large). On the first non-finite step the meta-parameters and
    the estimator's state freeze; ``best_meta`` follows the estimator's ``value`` (noisy for ES, one window's
    share for the online ones). ``metrics`` are stacked over steps: ``value`` and ``aux`` (before the update),
    ``grad_norm`` (before clipping; inf beyond float32, ``grad_log10_norm`` exact), ``finite`` and
    ``record(meta)`` after the update (default: meta).
    """
    _check_estimator(estimator)
    record = record or (lambda m: m)

    def one(state: OuterState, context):
        key = jax.random.fold_in(jax.random.wrap_key_data(state.key), state.step)
        (value, aux), grad, est_state = estimator.grad(state.meta, state.estimator_state, key, context)
        scaled = grad if isinstance(grad, ScaledGrad) else ScaledGrad(grad, jnp.zeros((), jnp.int32))
        finite = _all_finite(scaled.mantissa) & jnp.isfinite(value)
        norm = _safe_norm(scaled.mantissa)
        log10_norm = jnp.log10(norm) + scaled.exponent * np.log10(2.0)
        grad_norm = jnp.ldexp(norm, scaled.exponent)
        if clip is not None:
            grad = clip_scaled(scaled, clip)
        else:
            grad = jax.tree.map(lambda g: jnp.ldexp(g, scaled.exponent), scaled.mantissa)
        finite = finite & _all_finite(grad)
        updates, opt_state = optimizer.update(grad, state.opt_state, state.meta)
        meta = optax.apply_updates(state.meta, updates)
        # freeze at the first bad step: later curves stay finite and the report names the true culprit
        ok = finite & (state.bad_step < 0)
        keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)  # noqa: E731
        bad_step = jnp.where((state.bad_step < 0) & ~finite, state.step, state.bad_step)
        better = ok & (value < state.best_value)  # `value` is the objective of state.meta, before the update
        best = lambda new, old: jax.tree.map(lambda n, o: jnp.where(better, n, o), new, old)  # noqa: E731
        new = OuterState(state.step + 1, keep(meta, state.meta), keep(opt_state, state.opt_state), bad_step,
                         best(state.meta, state.best_meta), best(value.astype(jnp.float32), state.best_value),
                         best(state.step, state.best_step), keep(est_state, state.estimator_state), state.key)
        # for the error report: is the meta-objective finite, and how many meta-gradient entries are not
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

    With the chunk's `metrics` (steps ``first_step...``) the message also says whether the meta-objective itself
    was finite and how many meta-gradient entries were not."""
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


_FORMAT = "run_outer/1"  # the layout of a checkpoint's value


def _run_keys(key, n_runs: int | None):
    """One typed key per run: `key` as given without vmap; with vmap ``[R]`` keys, or one key split R ways."""
    if key is None:
        raise ValueError("run_outer needs key= (a jax.random.key; with vmap=True one per run, or one to split)")
    key = as_key(key)
    if n_runs is None:
        if key.ndim:
            raise ValueError(f"run_outer: one key per run without vmap, not keys of shape {key.shape}")
        return key
    if key.ndim == 0:
        return jax.random.split(key, n_runs)
    if key.shape != (n_runs,):
        raise ValueError(f"run_outer: keys of shape {key.shape} for {n_runs} runs (give one key or {n_runs})")
    return key


def _check_args(num_steps, chunk, clip) -> None:
    for name, value in (("num_steps", num_steps), ("chunk", chunk)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"run_outer: {name}={value!r} must be an integer >= 1")
    if clip is not None and not (isinstance(clip, (int, float)) and np.isfinite(clip) and clip > 0):
        raise ValueError(f"run_outer: clip={clip!r} must be a finite number > 0")


def run_outer(
    estimator: Estimator,
    optimizer: optax.GradientTransformation,
    meta: PyTree,
    context: PyTree,
    num_steps: int,
    *,
    key=None,
    chunk: int | None = None,
    clip: float | None = None,
    record: Callable | None = None,
    vmap: bool = False,
    state: OuterState | None = None,
    checkpoint: Checkpoint | None = None,
    on_chunk: Callable[[OuterState, dict], None] | None = None,
    labels: list[str] | None = None,
    compiler_options: dict | None = None,
    timing: dict | None = None,
) -> tuple[OuterState, dict]:
    """Run `num_steps` outer steps of `estimator` in jitted chunks of `chunk` steps.

    With ``vmap=True`` every leaf of `meta` and `context` has a leading run axis R (seeds, initial values), `key`
    is R keys or one key split R ways, the runs are split over the devices, and metrics are ``[R, num_steps,
    ...]``. Between chunks the host checks for non-finite meta-gradients (raising `NonFiniteMetaGradient` with
    the outer step and the last clean state) and calls ``on_chunk(state, metrics so far)`` (a progress bar; also
    once before the first chunk when resuming from a checkpoint, with the restored state).

    Resuming: pass the `state` of an earlier call, or a `checkpoint`: the state, the metrics so far and the
    timing are then stored there after every chunk and an interrupted run resumes from the last one, bit for
    bit (the same programs continue from the same state). Only two programs are compiled: the chunk and, if
    `chunk` does not divide the remaining steps, the shorter last one. `compiler_options` go to `jax.jit`.
    `timing` (a dict, filled in): ``wall_s`` and ``cpu_s`` of the outer loop summed over every session that
    contributed to the checkpoint (compile included in each) and ``sessions`` (steps and seconds of each).
    """
    _check_estimator(estimator)
    _check_args(num_steps, chunk, clip)
    t0, c0 = time.perf_counter(), time.process_time()
    timing = {} if timing is None else timing
    timing.update({"wall_s": 0.0, "cpu_s": 0.0, "sessions": []})
    n_runs = None
    if vmap:
        n_runs = int(np.shape(jax.tree.leaves(meta)[0])[0])
    done_metrics = None
    if state is None:
        keys = _run_keys(key, n_runs)
        init = lambda m, k, c: outer_init(estimator, optimizer, m, k, c)  # noqa: E731
        state = (jax.vmap(init) if vmap else init)(meta, keys, context)
        saved = checkpoint.store.get(checkpoint.name, checkpoint.tag) if checkpoint is not None else None
        if isinstance(saved, dict) and saved.get("format") == _FORMAT:  # (anything else is not ours: start over)
            leaves = [jnp.asarray(x) for x in saved["state"]]
            state = jax.tree.unflatten(jax.tree.structure(state), leaves)
            done_metrics = saved["metrics"]
            timing.update({k: saved["timing"][k] for k in ("wall_s", "cpu_s", "sessions")})
    prior = dict(timing)
    start = int(np.asarray(state.step).reshape(-1)[0])  # read before the state becomes a global array
    if vmap:  # split the runs over the devices (all CPU cores after use_cpu_cores(); several GPUs; hosts)
        (state, context), n_runs = spread_leading((state, context))
    remaining = num_steps - start
    chunk = remaining if chunk is None else chunk
    compiled: dict[int, Callable] = {}
    metrics_so_far = done_metrics
    clean = _runs(state, n_runs)

    def merged(pieces):
        new = _concat(pieces, vmap) if pieces else None
        if done_metrics is None or new is None:
            return new if new is not None else done_metrics
        return jax.tree.map(lambda a, b: np.concatenate([a, b], axis=1 if vmap else 0), done_metrics, new)

    pieces: list[dict] = []
    if done_metrics is not None and on_chunk is not None:  # resumed: show the restored progress first
        on_chunk(clean, done_metrics)
    while remaining > 0:
        n = min(chunk, remaining)
        if n not in compiled:
            scan = make_outer_scan(estimator, optimizer, n, clip=clip, record=record)
            compiled[n] = jax.jit(jax.vmap(scan) if vmap else scan, compiler_options=compiler_options)
        first = num_steps - remaining
        state, metrics = compiled[n](state, context)
        # Gathered from every process when many take part (take_leading), then on the host.
        metrics = jax.device_get(take_leading(metrics, n_runs) if vmap else metrics)
        try:
            check_finite(_runs(state, n_runs), labels, metrics, first)
        except NonFiniteMetaGradient as err:
            raise NonFiniteMetaGradient(str(err), clean, metrics_so_far) from None
        pieces.append(metrics)
        remaining -= n
        clean, metrics_so_far = _runs(state, n_runs), merged(pieces)
        step = num_steps - remaining
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        timing.update({"wall_s": prior["wall_s"] + wall, "cpu_s": prior["cpu_s"] + cpu,
                       "sessions": [*prior["sessions"], {"from_step": start, "to_step": step, "wall_s": wall,
                                                         "cpu_s": cpu}]})
        if checkpoint is not None:
            checkpoint.store.put(checkpoint.name, checkpoint.tag,
                                 {"format": _FORMAT, "state": [np.asarray(x) for x in jax.tree.leaves(clean)],
                                  "metrics": metrics_so_far, "timing": dict(timing)})
        if on_chunk is not None:
            on_chunk(clean, metrics_so_far)
    return clean, metrics_so_far if metrics_so_far is not None else {}


def _runs(state: OuterState, n_runs: int | None) -> OuterState:
    """The state without `spread_leading`'s padding runs (unchanged when not vmapped)."""
    return state if n_runs is None else take_leading(state, n_runs)


def _concat(pieces: list[dict], vmap: bool) -> dict:
    axis = 1 if vmap else 0
    return jax.tree.map(lambda *xs: np.concatenate(xs, axis=axis), *pieces)


__all__ = ["Checkpoint", "NonFiniteMetaGradient", "OuterState", "check_finite", "make_outer_scan", "outer_init",
           "run_outer"]
