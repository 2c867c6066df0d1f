"""Width sweeps in one call: widths x seeds as vmapped compiled programs (EXPERIMENTS.md §4; STYLE habit 5).

    from mnist1d_jax.sweeps import SweepConfig, sweep_widths
    res = sweep_widths("mlp", [2, 3, 4, 5, 7, 9, 12, 16, 21, 27, 36, 47, 61, 80, 104, 135, 177, 230, 300],
                       seeds=[0, 1, 2], data=data, config=SweepConfig())
    res["test_error"]          # (19 widths, 3 seeds) float32 test error in %

How: every width is initialised at its TRUE size (PyTorch-default bounds ``1/sqrt(fan_in)`` of the real
width), then zero-padded to a bucket width and trained with a 0/1 *unit mask* (``TrainState.mask``): padded
units have zero weights in and out, zero gradients and zero optimiser state, so they never become non-zero and
the padded network computes exactly the real one (up to float summation order). Padding everything to the
widest model would multiply the MLP sweep's work ~8x, so widths are grouped into a few buckets (a small
dynamic programme over cost ~ width^2 plus a per-bucket compile overhead, counting the runs a bucket's split
over the devices pads); each bucket is ONE jitted ``vmap`` over its (width, seed) runs. A width's seeds are
initialised together by one quickly compiled program (``init_padded_many``, the eager values bit for bit).

Models (``"mlp"``: Dense 40->n, ReLU, Dense n->n, ReLU, Dense n->10, no residual; ``"cnn"``: three convs of c
channels, kernels 5/3/3, stride 2, pad 1, then Dense 5c->10) come from ``mnist1d_jax.nn.models``; any model whose
parameter leaves grow only along trailing-padded axes with the width works (``embed`` pads every axis at its
end: the CNN head's rows ``c * 5 + l`` for channels c < n are exactly the first ``5n`` rows).

Training (§4.1): SGD with momentum, a fresh shuffle every epoch (``N // B`` batches), ``epochs * N // B``
steps, one evaluation at the end (train error against the labels it was trained on). Loss ``"nll"`` (softmax
cross-entropy) or ``"mse"`` (mean over batch and outputs of ``(logits - onehot)^2``, PyTorch's MSELoss).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core.loop import TrainState, cross_entropy, make_optimizer, train_step
from mnist1d_jax.core.parallel import spread_leading, take_leading
from mnist1d_jax.nn.models import get_model, init_params, init_params_many

Array = jax.Array
PyTree = Any


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """Static settings of one width sweep; defaults are the double-descent protocol of §4.1."""

    optimizer: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    batch_size: int = 100
    epochs: int = 500
    loss: str = "nll"  # "nll" | "mse"
    eval_chunk: int = 4000  # examples per forward pass at the final evaluation (memory)


# --------------------------------------------------------------------------------------------------------------
# Models of a given width, padding, buckets
# --------------------------------------------------------------------------------------------------------------
def model_for(name: str, width: int):
    """The double-descent model of ``width`` (MLP hidden units or CNN channels)."""
    if name == "mlp":
        return get_model("mlp", width=width, depth=2, residual=False)
    if name == "cnn":
        return get_model("cnn", channels=(width, width, width))
    raise ValueError(f"model={name!r}: use 'mlp' or 'cnn'")


def param_count(name: str, width: int) -> int:
    """Parameters of the real model: MLP n^2 + 52n + 10, CNN 6c^2 + 58c + 10."""
    if name == "mlp":
        return width * width + 52 * width + 10
    return 6 * width * width + 58 * width + 10


def embed(small: PyTree, big_like: PyTree) -> PyTree:
    """Zero-pad every leaf of ``small`` at the end of each axis to the shape of ``big_like``'s leaf."""
    def pad(s, b):
        return jnp.pad(s, [(0, bd - sd) for sd, bd in zip(jnp.shape(s), jnp.shape(b), strict=True)])
    return jax.tree_util.tree_map(pad, small, big_like)


def init_padded(name: str, width: int, padded: int, key: Array) -> tuple[PyTree, PyTree]:
    """``(params, mask)`` of the real ``width`` model (true fan-in init) embedded in a ``padded`` model."""
    real = init_params(model_for(name, width), key)
    shapes = jax.eval_shape(lambda: init_params(model_for(name, padded), key))
    params = embed(real, shapes)
    mask = embed(jax.tree_util.tree_map(jnp.ones_like, real), shapes)
    return params, mask


def init_padded_many(name: str, width: int, padded: int, keys: Array) -> tuple[PyTree, PyTree]:
    """``init_padded`` for a stack of keys ``(S,)`` at once (leaves ``(S, ...)``), the same values bit for bit,
    from one quickly compiled setup program (``models.init_params_many``): a sweep's inits take ~1 s per
    width instead of ~4 s."""
    real = init_params_many(model_for(name, width), keys)
    shapes = jax.eval_shape(lambda: init_params(model_for(name, padded), keys[0]))
    pad = jax.vmap(lambda tree: embed(tree, shapes))  # the run axis stays, every other axis is padded
    return pad(real), pad(jax.tree_util.tree_map(jnp.ones_like, real))


def bucket_widths(widths: Sequence[int], cost: Callable[[int], float], max_buckets: int = 6,
                  overhead: float = 0.1, runs_per_width: int = 1, devices: int = 1) -> list[list[int]]:
    """Split sorted ``widths`` into at most ``max_buckets`` contiguous groups minimising
    ``sum(slots(group) * cost(max(group))) + overhead * total_cost * n_groups`` (padding waste vs compiles).

    ``slots`` is the group's ``len(group) * runs_per_width`` runs rounded up to a multiple of ``devices``: a
    bucket's runs are split over the devices and a short device repeats a run (``devices.spread_leading``), so
    with one seed on two cores a lone width costs as much as two and the split pairs widths up.
    """
    ws = sorted(set(int(w) for w in widths))
    n = len(ws)
    penalty = overhead * sum(cost(w) for w in ws) * runs_per_width

    def slots(k):
        return -(-k * runs_per_width // devices) * devices

    best = {(0, 0): (0.0, [])}
    for b in range(1, max_buckets + 1):
        for j in range(1, n + 1):
            cands = [(best[(i, b - 1)][0] + slots(j - i) * cost(ws[j - 1]) + penalty, best[(i, b - 1)][1] + [(i, j)])
                     for i in range(j) if (i, b - 1) in best]
            if cands:
                best[(j, b)] = min(cands, key=lambda c: c[0])
    _, groups = min((best[(n, b)] for b in range(1, max_buckets + 1) if (n, b) in best), key=lambda c: c[0])
    return [ws[i:j] for i, j in groups]


def cost_fn(name: str) -> Callable[[int], float]:
    """Per-step work of a padded width (about its parameter count, floor for small fixed costs)."""
    return lambda w: param_count(name, w) + 2000.0


# --------------------------------------------------------------------------------------------------------------
# One run, and a bucket of runs
# --------------------------------------------------------------------------------------------------------------
def mse_onehot(logits: Array, labels: Array) -> Array:
    """PyTorch ``MSELoss()`` on one-hot targets: mean over batch and outputs; ``(B, K), (B,) -> ()``."""
    return jnp.mean((logits - jax.nn.one_hot(labels, logits.shape[-1])) ** 2)


LOSSES = {"nll": cross_entropy, "mse": mse_onehot}


def train_masked(params: PyTree, mask: PyTree, order_key: Array, x: Array, y: Array, x_test: Array,
                 y_test: Array, *, model, config: SweepConfig) -> dict[str, Array]:
    """Train one (padded, masked) model for ``config.epochs`` shuffled epochs; evaluate once at the end.

    Returns scalars: ``train_error``/``test_error`` (%), ``train_loss``/``test_loss`` (the training loss),
    ``train_nll``/``test_nll`` (cross-entropy, whatever the training loss).
    """
    loss_fn = LOSSES[config.loss]
    tx = make_optimizer(config.optimizer, config.learning_rate, 0.0, config.momentum)

    def apply_fn(variables, xb):
        return model.apply(variables, xb)

    state = TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), mask=mask,
                       apply_fn=apply_fn, tx=tx, loss_fn=loss_fn)
    n, bsz = x.shape[0], config.batch_size
    per_epoch = n // bsz

    def epoch(state, e):
        perm = jax.random.permutation(jax.random.fold_in(order_key, e), n)[: per_epoch * bsz]

        def step(state, idx):
            state, _ = train_step(state, (x[idx], y[idx]))
            return state, None

        state, _ = jax.lax.scan(step, state, perm.reshape(per_epoch, bsz))
        return state, None

    state, _ = jax.lax.scan(epoch, state, jnp.arange(config.epochs))
    eff = jax.tree_util.tree_map(lambda p, m: p * m, state.params, mask)

    def measure(xs, ys):
        chunk = min(config.eval_chunk, xs.shape[0])
        n_chunks = xs.shape[0] // chunk
        xs_c = xs[: n_chunks * chunk].reshape(n_chunks, chunk, -1)
        ys_c = ys[: n_chunks * chunk].reshape(n_chunks, chunk)

        def one(args):
            xc, yc = args
            logits = model.apply({"params": eff}, xc)
            return (jnp.sum(jnp.argmax(logits, -1) != yc), loss_fn(logits, yc) * chunk,
                    cross_entropy(logits, yc) * chunk)

        wrong, loss, nll = jax.tree_util.tree_map(jnp.sum, jax.lax.map(one, (xs_c, ys_c)))
        m = n_chunks * chunk
        return 100.0 * wrong / m, loss / m, nll / m

    train_err, train_loss, train_nll = measure(x, y)
    test_err, test_loss, test_nll = measure(x_test, y_test)
    return {"train_error": train_err, "test_error": test_err, "train_loss": train_loss, "test_loss": test_loss,
            "train_nll": train_nll, "test_nll": test_nll}


@functools.partial(jax.jit, static_argnames=("model", "config"))
def _train_bucket(params, masks, order_keys, x, y, x_test, y_test, model, config):
    run = functools.partial(train_masked, model=model, config=config)
    return jax.vmap(run, in_axes=(0, 0, 0, None, None, None, None))(params, masks, order_keys, x, y, x_test,
                                                                  y_test)


def run_keys(seed: int, width: int) -> tuple[Array, Array]:
    """Named streams of one (width, seed) run: ``(init, order)``."""
    init_key, order_key = jax.random.split(jax.random.fold_in(jax.random.key(seed), width))
    return init_key, order_key


def sweep_widths(model: str, widths: Sequence[int], seeds: Sequence[int], data, config: SweepConfig = SweepConfig(),
                 *, buckets: Sequence[Sequence[int]] | None = None, max_buckets: int = 6,
                 progress: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Train ``model`` ("mlp" | "cnn") at every width for every seed: one vmapped program per width bucket.

    Args:
      data: ``train.Data`` (or anything with ``x, y, x_test, y_test`` device/NumPy arrays).
      buckets: explicit groups of widths (each padded to its largest); default ``bucket_widths``.
      progress: called after each bucket with ``{"bucket", "widths", "seconds", "done", "total"}``.
    Returns:
      ``{"widths", "seeds", "params" (W,), "buckets", "seconds_per_bucket", metric (W, S) arrays...}``
      with the metrics of ``train_masked`` (errors in %).
    """
    widths = [int(w) for w in widths]
    if buckets is None:
        buckets = bucket_widths(widths, cost_fn(model), max_buckets, runs_per_width=len(seeds),
                                devices=jax.device_count())
    x, y = jnp.asarray(data.x, jnp.float32), jnp.asarray(data.y, jnp.int32)
    x_test, y_test = jnp.asarray(data.x_test, jnp.float32), jnp.asarray(data.y_test, jnp.int32)
    results: dict[tuple[int, int], dict[str, float]] = {}
    timing = []
    done = 0
    for bucket in buckets:
        padded = max(bucket)
        runs = [(w, s) for w in bucket for s in seeds]
        inits = [init_padded_many(model, w, padded, jnp.stack([run_keys(s, w)[0] for s in seeds])) for w in bucket]
        params = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *[p for p, _ in inits])
        masks = jax.tree_util.tree_map(lambda *a: jnp.concatenate(a), *[m for _, m in inits])
        order_keys = jnp.stack([run_keys(s, w)[1] for w, s in runs])
        t0, c0 = time.perf_counter(), time.process_time()
        # Split the runs over the devices (all CPU cores after use_cpu_cores(); several GPUs): one program.
        spread, n_runs = spread_leading((params, masks, order_keys))
        out = take_leading(_train_bucket(*spread, x, y, x_test, y_test, model_for(model, padded), config), n_runs)
        out = jax.device_get(out)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        for i, run in enumerate(runs):
            results[run] = {k: float(v[i]) for k, v in out.items()}
        done += len(runs)
        timing.append({"padded": padded, "widths": list(bucket), "runs": len(runs), "seconds": seconds,
                       "cpu_seconds": cpu})
        if progress is not None:
            progress({"bucket": padded, "widths": list(bucket), "seconds": seconds, "done": done,
                      "total": len(widths) * len(seeds)})
    metrics = next(iter(results.values())).keys()
    table = {k: np.array([[results[(w, s)][k] for s in seeds] for w in widths], np.float32) for k in metrics}
    return {"model": model, "widths": widths, "seeds": list(seeds), "params": [param_count(model, w) for w in widths],
            "buckets": timing, "config": dataclasses.asdict(config), **table}


def default_mlp_widths() -> list[int]:
    """The paper's 19 MLP widths: ``unique(int(geomspace(2, 300, 20)))``."""
    return sorted(set(int(v) for v in np.geomspace(2, 300, 20)))


def default_cnn_channels() -> list[int]:
    """The paper's 29 CNN channel counts: 2..28 step 2, then 30..100 step 5."""
    return list(range(2, 30, 2)) + list(range(30, 101, 5))


def width_at_params(name: str, n_params: float) -> float:
    """The (real-valued) width whose parameter count is ``n_params`` (inverse of ``param_count``)."""
    a, b = (1.0, 52.0) if name == "mlp" else (6.0, 58.0)
    return (-b + math.sqrt(b * b + 4 * a * (n_params - 10))) / (2 * a)


__all__ = ["SweepConfig", "sweep_widths", "train_masked", "init_padded", "init_padded_many", "embed",
           "bucket_widths", "param_count", "model_for", "mse_onehot", "default_mlp_widths", "default_cnn_channels",
           "width_at_params", "run_keys"]
