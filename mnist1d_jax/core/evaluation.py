"""Evaluations for ``train_loop``: ``evaluate(state) -> dict`` of scalars, built from the data they measure.

* `split_metrics(data)`: loss and accuracy (%) of every split a ``Data`` holds (train, val, test), in one
  forward pass over all of them: ``{"train_loss", "train_acc", ["val_loss", "val_acc",] "test_loss",
  "test_acc"}``; the loss is the softmax cross-entropy whatever the training loss.
* `leading_rows_metrics(splits)`: loss and accuracy (%) of the first ``n`` rows of each padded split, ``n``
  possibly traced (runs on sets of different sizes padded to one shape, vmapped as one program):
  ``{"<name>_loss", "<name>_acc"}``.
* `error_metrics(splits, loss_fn, chunk)`: per split, error (%), the training loss and the cross-entropy, the
  forward pass cut into chunks of ``chunk`` examples (memory of wide models on 12,000 test examples):
  ``{"<name>_error", "<name>_loss", "<name>_nll"}``.
* `max_softmax_auroc(logits_in, logits_out)`: the out-of-distribution score of a class-subset run
  (``data.classes``): how well the maximum softmax probability separates kept-digit test examples from
  held-out-digit ones (``Data.x_test`` vs ``Data.x_held``).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax.core.step import TrainState, cross_entropy
from mnist1d_jax.data.splits import Data

Array = jax.Array


def _softmax_xent(logits: Array, labels: Array) -> Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def split_metrics(data: Data, splits: tuple[str, ...] = ("train", "val", "test"),
                  loss_fn: Callable | None = None) -> Callable:
    """``evaluate(state)``: loss and accuracy (%) of the chosen splits present in ``data``, one forward pass.

    The loss is the softmax cross-entropy, or ``loss_fn(logits, labels) -> ()`` of each split when given.
    """
    arrays = {"train": (data.x, data.y), "val": (data.x_val, data.y_val), "test": (data.x_test, data.y_test)}
    parts = [(name, *arrays[name]) for name in splits if arrays[name][0] is not None]
    x_all = jnp.concatenate([p[1] for p in parts])
    y_all = jnp.concatenate([p[2] for p in parts])
    bounds = np.cumsum([0] + [p[1].shape[0] for p in parts])

    def evaluate(state: TrainState) -> dict[str, Array]:
        logits = state.logits(x_all)
        losses = _softmax_xent(logits, y_all) if loss_fn is None else None
        correct = (jnp.argmax(logits, -1) == y_all).astype(jnp.float32)
        out = {}
        for (name, _, _), a, b in zip(parts, bounds[:-1], bounds[1:], strict=True):
            out[f"{name}_loss"] = losses[a:b].mean() if loss_fn is None else loss_fn(logits[a:b], y_all[a:b])
            out[f"{name}_acc"] = 100.0 * correct[a:b].mean()
        return out

    return evaluate


def leading_rows_metrics(splits: dict[str, tuple[Array, Array, Array]]) -> Callable:
    """``evaluate(state)``: ``{"<name>_loss", "<name>_acc" (%)}`` of the first ``n`` rows of each split.

    ``splits``: name -> ``(x (N, D), y (N,), n)`` where rows ``n..N-1`` are padding (ignored) and ``n`` is an
    int scalar that may be traced, so that sets of different sizes padded to one shape share one program. One
    forward pass over every split together, as `split_metrics`.
    """
    names = list(splits)
    x_all = jnp.concatenate([splits[k][0] for k in names])
    y_all = jnp.concatenate([splits[k][1] for k in names])
    bounds = np.cumsum([0] + [splits[k][0].shape[0] for k in names])

    def evaluate(state: TrainState) -> dict[str, Array]:
        logits = state.logits(x_all)
        losses = _softmax_xent(logits, y_all)
        correct = (jnp.argmax(logits, -1) == y_all).astype(jnp.float32)
        out = {}
        for name, a, b in zip(names, bounds[:-1], bounds[1:], strict=True):
            n = splits[name][2]
            valid = (jnp.arange(b - a) < n).astype(jnp.float32)
            out[f"{name}_loss"] = jnp.sum(losses[a:b] * valid) / n
            out[f"{name}_acc"] = 100.0 * jnp.sum(correct[a:b] * valid) / n
        return out

    return evaluate


def error_metrics(splits: dict[str, tuple[Array, Array]], loss_fn: Callable = cross_entropy,
                  chunk: int = 4000) -> Callable:
    """``evaluate(state)``: ``{"<name>_error" (%), "<name>_loss" (loss_fn), "<name>_nll" (cross-entropy)}`` per
    split, each split's forward pass in chunks of ``chunk`` examples (a remainder beyond whole chunks is
    left out; the studies' sizes are multiples)."""

    def measure(state, xs, ys):
        size = min(chunk, xs.shape[0])
        n_chunks = xs.shape[0] // size
        xs_c = xs[: n_chunks * size].reshape(n_chunks, size, -1)
        ys_c = ys[: n_chunks * size].reshape(n_chunks, size)

        def one(args):
            xc, yc = args
            logits = state.logits(xc)
            return (jnp.sum(jnp.argmax(logits, -1) != yc), loss_fn(logits, yc) * size,
                    cross_entropy(logits, yc) * size)

        wrong, loss, nll = jax.tree_util.tree_map(jnp.sum, jax.lax.map(one, (xs_c, ys_c)))
        m = n_chunks * size
        return 100.0 * wrong / m, loss / m, nll / m

    def evaluate(state: TrainState) -> dict[str, Array]:
        out = {}
        for name, (xs, ys) in splits.items():
            out[f"{name}_error"], out[f"{name}_loss"], out[f"{name}_nll"] = measure(state, xs, ys)
        return out

    return evaluate


def _msp_rank_score(logits: Array) -> Array:
    """A score in the same order as the maximum softmax probability ``p = 1 / (1 + S)``, with
    ``S = sum_{k != argmax} exp(l_k - max l)``: ``-S``. In float32 ``p`` itself rounds to exactly 1 for every
    confident prediction (S < 6e-8), which would make them all ties; ``-S`` keeps their order."""
    logits = jnp.asarray(logits, jnp.float32)
    top = jnp.argmax(logits, -1)
    e = jnp.exp(logits - jnp.max(logits, -1, keepdims=True))
    others = jnp.arange(logits.shape[-1]) != top[..., None]
    return -jnp.sum(jnp.where(others, e, 0.0), -1)


def max_softmax_auroc(logits_in: Array, logits_out: Array) -> Array:
    """AUROC of the maximum softmax probability (MSP) separating in-distribution examples (positives) from
    out-of-distribution ones: for a class-subset run, kept-digit test examples vs held-out-digit test examples.

    With ``p_i = max_k softmax(logits_in[i])_k`` (i < N) and ``q_j = max_k softmax(logits_out[j])_k`` (j < M)::

        AUROC = 1 / (N M) * sum_i sum_j ( [p_i > q_j] + 1/2 [p_i = q_j] )

    the probability that a random in-distribution example is more confident than a random out-of-distribution
    one, ties counted half (the Mann-Whitney U statistic over N M). 1.0: perfectly separated; 0.5: no better
    than chance (e.g. identical distributions); 0.0: perfectly reversed. The MSP is compared in a form that
    keeps its order where float32 would round it to 1 (`_msp_rank_score`).

    Args:
      logits_in: ``(..., N, K)`` logits of the in-distribution examples.
      logits_out: ``(..., M, K)`` logits of the out-of-distribution examples (the same leading axes, e.g.
        seeds, which are mapped over).
    Returns:
      ``(...)`` float32 AUROC in [0, 1]. Pure and jit-able; O((N + M) log M).
    """
    logits_in, logits_out = jnp.asarray(logits_in), jnp.asarray(logits_out)
    if logits_in.ndim < 2 or logits_out.ndim < 2 or logits_in.shape[-2] == 0 or logits_out.shape[-2] == 0:
        raise ValueError("max_softmax_auroc needs (..., N, K) logits with at least one in- and one "
                         "out-of-distribution example")
    return _auroc(logits_in, logits_out)


def _auroc_one(logits_in: Array, logits_out: Array) -> Array:
    p, q = _msp_rank_score(logits_in), jnp.sort(_msp_rank_score(logits_out))
    below = jnp.searchsorted(q, p, side="left")  # per i: #{j: q_j < p_i}
    not_above = jnp.searchsorted(q, p, side="right")  # per i: #{j: q_j <= p_i}
    # [q < p] + 1/2 [q = p] = ([q < p] + [q <= p]) / 2, counted exactly in integers
    return (jnp.sum(below) + jnp.sum(not_above)) / jnp.float32(2 * p.shape[0] * q.shape[0])


_auroc = jax.jit(jnp.vectorize(_auroc_one, signature="(n,k),(m,k)->()"))


__all__ = ["error_metrics", "max_softmax_auroc", "split_metrics"]
