"""Width sweeps in one call: widths x seeds as vmapped compiled programs::

    from mnist1d_jax.core.sweeps import SweepConfig, sweep_widths
    res = sweep_widths("mlp", [2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177, 230, 300],
                       seeds=[0, 1, 2], data=data, config=SweepConfig())
    res["test_error"]          # (19 widths, 3 seeds) float32 test error in %

How: widths are grouped into a few buckets; each bucket is ONE jitted program that initialises every one of
its (width, seed) runs at the width's TRUE size (PyTorch-default bounds ``1/sqrt(fan_in)`` of the real width),
zero-pads it to the bucket's largest width and trains all runs vmapped with a 0/1 *unit mask*
(``TrainState.mask``): padded units have zero weights in and out, zero gradients and zero optimiser state, so
they never become non-zero and the padded network computes exactly the real one (up to float summation order).
Padding everything to the widest model would multiply the MLP sweep's work ~8x, so the buckets come from a
small dynamic programme over cost ~ width^2 plus a per-bucket compile overhead, counting the runs that
splitting a bucket over the devices pads.

Models: ``nn.models.width_model`` (``"mlp"``: Dense 40->n, ReLU, Dense n->n, ReLU, Dense n->10, no residual;
``"cnn"``: three convs of c channels, kernels 5/3/3, stride 2, pad 1, then Dense 5c->10). Any model whose
parameter leaves grow only along trailing-padded axes with the width works (``embed`` pads every axis at its
end: the CNN head's rows ``c * 5 + l`` for channels c < n are exactly the first ``5n`` rows).

Each run trains by `masked_training` (``train_masked``, or ``train_weighted`` with ``weigh``: the training
protocol and its `SweepConfig` are described there). ``labels`` adds a vmapped axis of training labels
(label-noise rates): every (width, labels, seed) run is one run of the program.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core.masked_training import WEIGH_STREAM as WEIGH_STREAM  # public here before the move
from mnist1d_jax.core.masked_training import StatefulWeigh, SweepConfig, train_masked, train_weighted
from mnist1d_jax.core.parallel import constrain_runs, pad_runs, replicate, run_sharding, spread_leading, take_leading
from mnist1d_jax.nn.init import init_params
from mnist1d_jax.nn.models import width_model, width_model_params
from mnist1d_jax.runtime.backend import bucket_plan
from mnist1d_jax.runtime.precision import use_precision

Array = jax.Array
PyTree = Any


# --------------------------------------------------------------------------------------------------------------
# Padding and buckets
# --------------------------------------------------------------------------------------------------------------
def embed(small: PyTree, big_like: PyTree) -> PyTree:
    """Zero-pad every leaf of ``small`` at the end of each axis to the shape of ``big_like``'s leaf."""
    def pad(s, b):
        return jnp.pad(s, [(0, bd - sd) for sd, bd in zip(jnp.shape(s), jnp.shape(b), strict=True)])
    return jax.tree_util.tree_map(pad, small, big_like)


def init_padded(kind: str, width: int, padded: int, keys: Array) -> tuple[PyTree, PyTree]:
    """``(params, mask)`` of the real ``width`` model for every key ``(S,)`` (true fan-in init, leaves
    ``(S, ...)``), zero-padded into the ``padded`` model; pure, so it runs inside the program that trains."""
    real = jax.vmap(lambda k: init_params(width_model(kind, width), k))(keys)
    shapes = jax.eval_shape(lambda: init_params(width_model(kind, padded), jax.random.key(0)))
    pad = jax.vmap(lambda tree: embed(tree, shapes))  # the run axis stays, every other axis is padded
    return pad(real), pad(jax.tree_util.tree_map(jnp.ones_like, real))


def bucket_widths(widths: Sequence[int], cost: Callable[[int], float], max_buckets: int = 6,
                  overhead: float = 0.1, runs_per_width: int = 1, devices: int = 1,
                  floor: float = 0.0) -> list[list[int]]:
    """Split sorted ``widths`` into at most ``max_buckets`` contiguous groups minimising
    ``sum(max(floor * devices, slots(group) * cost(max(group)))) + overhead * total_cost * n_groups`` (padding
    waste vs compiles).

    ``slots`` is the group's ``len(group) * runs_per_width`` runs rounded up to a multiple of ``devices``: a
    bucket's runs are split over the devices and a short device repeats a run, so with one seed on two cores a
    lone width costs as much as two and the split pairs widths up. ``floor`` is the work per device below which
    a step costs the same (an accelerator running these tiny models is latency-bound: padding is nearly free
    there, so few large buckets win); 0 on a CPU, where time follows work (``backend.bucket_plan``).
    """
    ws = sorted(set(int(w) for w in widths))
    n = len(ws)
    penalty = overhead * sum(cost(w) for w in ws) * runs_per_width

    def slots(k):
        return -(-k * runs_per_width // devices) * devices

    best = {(0, 0): (0.0, [])}
    for b in range(1, max_buckets + 1):
        for j in range(1, n + 1):
            cands = [(best[(i, b - 1)][0] + max(floor * devices, slots(j - i) * cost(ws[j - 1])) + penalty,
                      best[(i, b - 1)][1] + [(i, j)]) for i in range(j) if (i, b - 1) in best]
            if cands:
                best[(j, b)] = min(cands, key=lambda c: c[0])
    _, groups = min((best[(n, b)] for b in range(1, max_buckets + 1) if (n, b) in best), key=lambda c: c[0])
    return [ws[i:j] for i, j in groups]


def cost_fn(kind: str) -> Callable[[int], float]:
    """Per-step work of a padded width (about its parameter count, floor for small fixed costs)."""
    return lambda w: width_model_params(kind, w) + 2000.0


# --------------------------------------------------------------------------------------------------------------
# A bucket of runs, and the sweep
# --------------------------------------------------------------------------------------------------------------
@functools.partial(jax.jit, static_argnames=("kind", "bucket", "config", "padded_runs", "per_run_labels", "weigh"))
def _train_bucket(init_keys, order_keys, x, y, x_test, y_test, *, kind, bucket, config, padded_runs,
                  per_run_labels=False, weigh=None):
    """Initialise (inside the program) and train every (width, seed) run of one bucket.

    ``init_keys (W, S)`` per width and seed; ``order_keys (R,)`` for the ``R = W * S`` runs, already padded to
    ``padded_runs`` and split over the devices; ``y`` is ``(N,)``, or ``(R, N)`` with ``per_run_labels`` (then
    the ``S`` inits of a width repeat for each of its ``R / (W * S)`` label sets); ``weigh``: train each run with
    `train_weighted` instead of `train_masked`. Widths have different true
    shapes, so each width's seeds are initialised by their own vmapped draw (a trace-time loop over the bucket's
    few widths; one program).
    """
    padded = max(bucket)
    inits = [init_padded(kind, w, padded, init_keys[i]) for i, w in enumerate(bucket)]
    if per_run_labels:  # runs are (width, labels, seed): each width's seed inits repeat for every label set
        repeats = order_keys.shape[0] // (len(bucket) * init_keys.shape[1])
        inits = [jax.tree_util.tree_map(lambda a: jnp.tile(a, (repeats,) + (1,) * (a.ndim - 1)), i) for i in inits]
    params = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *[p for p, _ in inits])
    masks = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *[m for _, m in inits])
    sharding, _ = run_sharding(padded_runs)
    params, masks = constrain_runs(pad_runs((params, masks), padded_runs), sharding)
    train = train_masked if weigh is None else functools.partial(train_weighted, weigh=weigh)
    run = functools.partial(train, model=width_model(kind, padded), config=config)
    if per_run_labels:
        y = constrain_runs(pad_runs(y, padded_runs), sharding)
    return jax.vmap(run, in_axes=(0, 0, 0, None, 0 if per_run_labels else None, None, None))(
        params, masks, order_keys, x, y, x_test, y_test)


def _checked(name: str, values, lowest: int) -> list[int]:
    """A non-empty list of distinct integers >= ``lowest``, or a ValueError naming the argument."""
    try:
        out = [operator.index(v) for v in values]
    except TypeError:
        raise ValueError(f"sweep_widths: {name} must be integers, got {values!r}") from None
    if not out or min(out) < lowest or len(set(out)) != len(out):
        raise ValueError(f"sweep_widths: {name}={values!r} must be distinct integers >= {lowest}, at least one")
    return out


def run_keys(seed: int, width: int) -> tuple[Array, Array]:
    """Named streams of one (width, seed) run: ``(init, order)``."""
    init_key, order_key = jax.random.split(jax.random.fold_in(jax.random.key(seed), width))
    return init_key, order_key


def sweep_widths(model: str, widths: Sequence[int], seeds: Sequence[int], data,
                 config: SweepConfig = SweepConfig(),  # noqa: B008 (frozen: one shared default is safe)
                 *, labels=None, buckets: Sequence[Sequence[int]] | None = None, max_buckets: int = 6,
                 progress: Callable[[dict], None] | None = None, weigh: Callable | None = None) -> dict[str, Any]:
    """Train ``model`` ("mlp" | "cnn") at every width for every seed: one vmapped program per width bucket.

    Args:
      data: ``Data`` (or anything with ``x, y, x_test, y_test`` device/NumPy arrays).
      labels: ``(L, N)`` int training labels (e.g. L label-noise rates) to train on instead of ``data.y``, as
        one more vmapped axis: a run per (width, label set, seed); the L runs of a (width, seed) share its init
        and batch order, so they differ only in their labels.
      buckets: explicit groups of widths (each padded to its largest); default ``bucket_widths``.
      progress: called after each bucket with ``{"bucket", "widths", "seconds", "done", "total"}``.
      weigh: per-example loss weights ``weigh(params, mask, (x_b, y_b), key) -> (B,)`` or a `StatefulWeigh`
        (`train_weighted`; a static argument: one compile per function object and bucket); adds ``example_weight`` and
        ``example_kept`` ``(W, S, N)``.
    Returns:
      ``{"widths", "seeds", "params" (W,), "buckets", "config", metric (W, S) arrays...}`` with the metrics of
      ``train_masked`` (errors in %); ``(W, L, S)`` with ``labels``; one more trailing axis ``(K,)`` with
      ``config.eval_epochs``.
    """
    widths, seeds = _checked("widths", widths, 1), _checked("seeds", seeds, 0)
    if data.x.shape[0] < config.batch_size:
        raise ValueError(f"sweep_widths: batch_size={config.batch_size} exceeds the {data.x.shape[0]} training "
                         "examples")
    if buckets is None:
        buckets = bucket_widths(widths, cost_fn(model), max_buckets, runs_per_width=len(seeds),
                                devices=jax.device_count(), **bucket_plan())
    # Shared inputs: replicated global arrays when many processes take part (unchanged with one).
    label_sets = None
    if labels is not None:
        label_sets = np.asarray(labels)
        if label_sets.ndim != 2 or label_sets.shape[1] != data.x.shape[0]:
            raise ValueError(f"sweep_widths: labels must be (L, {data.x.shape[0]}) training labels, got shape "
                             f"{label_sets.shape}")
        if label_sets.min() < 0 or label_sets.max() > 9:
            raise ValueError("sweep_widths: labels must be classes 0..9")
        label_sets = label_sets.astype(np.int32)
    x, y, x_test, y_test = replicate((np.asarray(data.x, np.float32), np.asarray(data.y, np.int32),
                                      np.asarray(data.x_test, np.float32), np.asarray(data.y_test, np.int32)))
    n_sets = 1 if label_sets is None else len(label_sets)
    results: dict[tuple[int, int, int], dict[str, np.ndarray]] = {}
    timing = []
    done = 0
    for bucket in buckets:
        bucket = tuple(int(w) for w in bucket)
        runs = [(w, ls, s) for w in bucket for ls in range(n_sets) for s in seeds]
        init_keys = replicate(jnp.stack([jnp.stack([run_keys(s, w)[0] for s in seeds]) for w in bucket]))
        order_keys = jnp.stack([run_keys(s, w)[1] for w, _, s in runs])
        run_y = y if label_sets is None else replicate(label_sets[[ls for _, ls, _ in runs]])
        t0, c0 = time.perf_counter(), time.process_time()
        # The runs split over the devices (all CPU cores after use_cpu_cores(); several GPUs): one program.
        spread, n_runs = spread_leading(order_keys)
        with use_precision(config.precision):  # around the call: the jit's cache key and lowering see it
            out = _train_bucket(init_keys, spread, x, run_y, x_test, y_test, kind=model, bucket=bucket,
                                config=config, padded_runs=spread.shape[0], per_run_labels=label_sets is not None,
                                weigh=weigh)
        out = jax.device_get(take_leading(out, n_runs))
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        for i, run in enumerate(runs):
            results[run] = {k: np.asarray(v[i], np.float32) for k, v in out.items()}
        done += len(runs)
        timing.append({"padded": max(bucket), "widths": list(bucket), "runs": len(runs), "seconds": seconds,
                       "cpu_seconds": cpu})
        if progress is not None:
            progress({"bucket": max(bucket), "widths": list(bucket), "seconds": seconds, "done": done,
                      "total": len(widths) * n_sets * len(seeds)})
    metrics = next(iter(results.values())).keys()
    table = {k: np.array([[[results[(w, ls, s)][k] for s in seeds] for ls in range(n_sets)] for w in widths],
                         np.float32) for k in metrics}
    if label_sets is None:
        table = {k: v[:, 0] for k, v in table.items()}
    extra = {} if config.eval_epochs is None else {"eval_epochs": list(config.eval_epochs)}
    return {"model": model, "widths": widths, "seeds": list(seeds),
            "params": [width_model_params(model, w) for w in widths], "buckets": timing,
            "config": dataclasses.asdict(config), **extra, **table}


def default_mlp_widths() -> list[int]:
    """The paper's 19 MLP widths: ``unique(int(geomspace(2, 300, 20)))``."""
    return sorted(set(int(v) for v in np.geomspace(2, 300, 20)))


def default_cnn_channels() -> list[int]:
    """The paper's 29 CNN channel counts: 2..28 step 2, then 30..100 step 5."""
    return list(range(2, 30, 2)) + list(range(30, 101, 5))


def width_at_params(kind: str, n_params: float) -> float:
    """The (real-valued) width whose parameter count is ``n_params`` (inverse of ``width_model_params``)."""
    a, b = (1.0, 52.0) if kind == "mlp" else (6.0, 58.0)
    return (-b + math.sqrt(b * b + 4 * a * (n_params - 10))) / (2 * a)

__all__ = ["StatefulWeigh", "SweepConfig", "bucket_widths", "cost_fn", "default_cnn_channels", "default_mlp_widths",
           "embed", "init_padded", "run_keys", "sweep_widths", "train_masked", "train_weighted", "width_at_params"]
