"""Batch schedules: which examples the training loop's step ``s`` sees, as pure functions of ``s``.

A schedule has ``init() -> state`` and ``next(state, s) -> ((x, y), key, state)``; ``key`` is the step's own
randomness when the schedule draws it (else None and the loop derives one). The state is carried by the
loop's scan, so a schedule may keep what it computes once per epoch.

* `Sequential`: the original harness's fixed order, batch ``s`` = examples ``(s * B + i) mod N`` (a batch that
  crosses the end wraps to the start; the original would take a short batch there); N may be a traced count of
  valid leading rows of padded arrays.
* `EpochShuffle`: a fresh permutation of the N examples every epoch (``N // B`` full batches, the remainder
  dropped), each epoch's permutation drawn from its own given key; optionally each epoch also draws its
  steps' keys (the self-supervised study's augmentations).
* `PreDrawn`: batches given up front, ``xs (T, B, ...)``, ``ys (T, B)`` (the metalearning studies).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

Array = jax.Array


@struct.dataclass
class Sequential:
    """Harness order: ``x[(s * B + i) mod N]`` for ``i < B``. (Schedules are pytrees: the arrays are leaves, the
    sizes static, so a schedule can be passed into a jitted function.)

    ``rows``: when given, only the first ``rows`` examples of ``x`` / ``y`` are the training set (N = rows) and
    the rest is padding; ``rows`` is an int32 scalar that may be traced, so runs on training sets of different
    sizes, padded to one shape, are one vmapped program (the pooling study's sizes).
    """

    x: Array
    y: Array
    batch_size: int = struct.field(pytree_node=False)
    rows: Array | None = None

    def init(self) -> Any:
        return ()

    def next(self, state, s):
        n, b = self.x.shape[0], self.batch_size
        if self.rows is not None:  # a traced N: the same examples as the unpadded schedule, by a gather
            idx = (s * b + jnp.arange(b)) % self.rows
            return (self.x[idx], self.y[idx]), None, state
        if n % b == 0:  # contiguous batches: one dynamic slice, no gather
            i0 = (s * b) % n
            batch = (jax.lax.dynamic_slice_in_dim(self.x, i0, b), jax.lax.dynamic_slice_in_dim(self.y, i0, b))
        else:
            idx = (s * b + jnp.arange(b)) % n
            batch = (self.x[idx], self.y[idx])
        return batch, None, state


@struct.dataclass
class EpochShuffle:
    """A fresh permutation every epoch: step ``s`` is batch ``s mod (N // B)`` of epoch ``s // (N // B)``.

    ``epoch_keys (E,)``: the key of each epoch's permutation (a study's own key scheme, e.g.
    ``jax.random.split(key, E)``); steps past ``E`` epochs are an error of the caller. With
    ``step_keys=True`` each epoch key is split into a permutation key and a key for the epoch's steps, which
    are ``jax.random.split(steps_key, N // B)``.
    """

    x: Array
    y: Array
    batch_size: int = struct.field(pytree_node=False)
    epoch_keys: Array = None
    step_keys: bool = struct.field(pytree_node=False, default=False)

    @property
    def per_epoch(self) -> int:
        return self.x.shape[0] // self.batch_size

    def _epoch(self, e):
        key = self.epoch_keys[e]
        n = self.x.shape[0]
        if not self.step_keys:
            return jax.random.permutation(key, n), None
        k_perm, k_steps = jax.random.split(key)
        return jax.random.permutation(k_perm, n), jax.random.split(k_steps, self.per_epoch)

    def init(self):
        perm, keys = self._epoch(0)
        return jnp.int32(0), perm, keys

    def next(self, state, s):
        epoch, perm, keys = state
        e, i = s // self.per_epoch, s % self.per_epoch
        # A new epoch's permutation is drawn once, at its first step (a branch taken once per epoch)
        epoch, perm, keys = jax.lax.cond(e != epoch, lambda: (jnp.asarray(e, jnp.int32), *self._epoch(e)),
                                         lambda: (epoch, perm, keys))
        idx = jax.lax.dynamic_slice_in_dim(perm, i * self.batch_size, self.batch_size)
        key = keys[i] if self.step_keys else None
        return (self.x[idx], self.y[idx]), key, (epoch, perm, keys)


@struct.dataclass
class PreDrawn:
    """Batches given up front: step ``s`` is ``(xs[s], ys[s])``."""

    xs: Array
    ys: Array

    def init(self) -> Any:
        return ()

    def next(self, state, s):
        return (self.xs[s], self.ys[s]), None, state


def stack_batches(schedule, num_steps: int) -> tuple[Array, Array]:
    """The first ``num_steps`` batches of a stateless schedule, drawn up front: ``xs (T, B, ...)``, ``ys (T, B)``
    (the pre-drawn batches an unrolled inner run scans over)."""
    # one small compiled program rather than a dozen eagerly compiled ops
    return jax.jit(lambda sched: jax.vmap(lambda s: sched.next(sched.init(), s)[0])(jnp.arange(num_steps)))(schedule)


def epochs_needed(num_updates: int, n: int, batch_size: int) -> int:
    """How many epochs of ``n // batch_size`` batches cover ``num_updates`` steps."""
    return num_updates // (n // batch_size) + 1


__all__ = ["EpochShuffle", "PreDrawn", "Sequential", "epochs_needed", "stack_batches"]
