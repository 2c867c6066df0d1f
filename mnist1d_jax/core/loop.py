"""The one training loop: ``train_loop(state, schedule, num_updates, ...)``, a whole run as one ``lax.scan``.

Updates ``s = 0 .. num_updates - 1`` each take their batch from the schedule and call ``train_step``.
Evaluations happen after the updates ``first_eval, first_eval + E, ...`` (``E = eval_every``): the loop is a
scan over evaluation blocks whose body is a scan over the E steps before each evaluation, so the step and the
evaluation are compiled once and nothing syncs with the host. Steps before the first block and after the last
evaluation run as plain scans. What an evaluation measures (``evaluate(state) -> dict``) and what is kept from
it (a ``hook``: the best-on-validation parameters, a snapshot at some step) are arguments.

Evaluations at arbitrary updates (``eval_at``, e.g. log-spaced epochs) run each stretch between two evaluations
as a ``fori_loop`` with traced bounds, so the step and the evaluation are still compiled once; that form runs
forward only (a ``while_loop`` has no reverse-mode derivative), which is all a training run needs.

The original harness (T + 1 updates, evaluation after every update with ``s % E == 0``, step 0 included) is
``train_loop(state, Sequential(...), T + 1, eval_every=E, first_eval=0, ...)``; one evaluation at the end of a
run is the default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from mnist1d_jax.core.step import TrainState, train_step

Array = jax.Array
PyTree = Any


class Hook(NamedTuple):
    """What the loop keeps from its evaluations: ``init(state) -> h``, ``update(h, state, metrics, step) -> h``
    (``step`` the update just evaluated; a traced scalar)."""

    init: Callable[[TrainState], PyTree]
    update: Callable[[PyTree, TrainState, dict, Array], PyTree]


def best_on(metric: str = "val_acc") -> Hook:
    """Keep the parameters with the highest ``metric`` (the first maximum): ``(best value, params, step)``."""

    def init(state):
        return jnp.float32(-1.0), state.params, jnp.int32(0)

    def update(h, state, metrics, step):
        best, params, at = h
        better = metrics[metric] > best
        params = jax.tree_util.tree_map(lambda a, b: jnp.where(better, a, b), state.params, params)
        return jnp.where(better, metrics[metric], best), params, jnp.where(better, step, at)

    return Hook(init, update)


def snapshot_at(step: int) -> Hook:
    """Keep the parameters evaluated after update ``step`` (the state's own params until then)."""

    def update(h, state, metrics, s):
        return jax.tree_util.tree_map(lambda a, b: jnp.where(s == step, a, b), state.params, h)

    return Hook(lambda state: state.params, update)


def eval_points(num_updates: int, eval_every: int | None = None, first_eval: int | None = None,
                eval_at=None) -> list[int]:
    """The updates after which `train_loop` evaluates (default: only the last one)."""
    if eval_at is not None:
        if eval_every is not None or first_eval is not None:
            raise ValueError("give either eval_at or eval_every / first_eval, not both")
        points = sorted({int(p) for p in eval_at})
        if not points or points[0] < 0 or points[-1] >= num_updates:
            raise ValueError(f"eval_at must hold updates in 0..{num_updates - 1} (at least one), got {list(eval_at)}")
        return points
    every = eval_every or num_updates
    first = (0 if eval_every else num_updates - 1) if first_eval is None else first_eval
    if num_updates < 1 or every < 1 or not 0 <= first < num_updates:
        raise ValueError(f"need num_updates >= 1, eval_every >= 1 and 0 <= first_eval < num_updates, got "
                         f"{num_updates}, {eval_every}, {first_eval}")
    return list(range(first, num_updates, every))


def train_loop(state: TrainState, schedule, num_updates: int, *, eval_every: int | None = None,
               first_eval: int | None = None, eval_at=None, evaluate: Callable[[TrainState], dict] | None = None,
               hook: Hook | None = None, key: Array | None = None, remat: bool = False):
    """Train for ``num_updates`` steps as one compiled program.

    Args:
      state: a ``TrainState`` (its loss, optimiser, mask and augmentation say how each step trains).
      schedule: a batch schedule (``core.schedules``).
      eval_every, first_eval: evaluate after updates ``first_eval, first_eval + eval_every, ...``; default one
        evaluation after the last update (``eval_every`` alone: ``first_eval = 0``).
      eval_at: instead, evaluate after each of these updates (any increasing spacing, e.g. log-spaced epochs);
        forward only (not reverse-differentiable).
      evaluate: ``evaluate(state) -> dict`` of scalars; default ``{}``.
      hook: what to keep from the evaluations (`best_on`, `snapshot_at`).
      key: when given, step ``s`` gets ``fold_in(key, s)`` (unless the schedule draws the step's key).
      remat: ``jax.checkpoint`` each step (flat memory when differentiating through long runs).
    Returns:
      ``(state, metrics, hook_state)``: the final state; ``metrics`` with every ``evaluate`` output stacked over
      the K evaluations, ``step (K,)`` and ``batch_loss (num_updates,)`` (each batch's loss before its update);
      the hook's final state (None without a hook).
    """
    points = eval_points(num_updates, eval_every, first_eval, eval_at)
    first, last, n_evals = points[0], points[-1], len(points)
    evaluate = evaluate or (lambda st: {})
    h_state = hook.init(state) if hook is not None else None

    def step(carry, s):
        st, sched = carry
        batch, k, sched = schedule.next(sched, s)
        if k is None and key is not None:
            k = jax.random.fold_in(key, s)
        st, m = train_step(st, batch, k)
        return (st, sched), m["loss"]

    if remat:
        step = jax.checkpoint(step)
    if eval_at is not None:
        return _train_loop_at(step, (state, schedule.init()), h_state, points, num_updates, evaluate, hook)
    every = eval_every or num_updates

    def steps(carry, start, stop):
        return jax.lax.scan(step, carry, jnp.arange(start, stop))

    carry, losses = (state, schedule.init()), []
    if first - every + 1 > 0:  # steps before the first evaluation block
        carry, head = steps(carry, 0, first - every + 1)
        losses.append(head)
    skip_negative = first - every + 1 < 0

    def maybe_step(carry, s):
        # Block 0 starts before step 0 when first_eval < eval_every - 1 so that every block has the same length
        # (the step and the evaluation compiled once); its steps s < 0 are skipped by a branch, not computed.
        loss = jax.eval_shape(step, carry, s)[1]
        return jax.lax.cond(s >= 0, step, lambda c, _: (c, jnp.zeros(loss.shape, loss.dtype)), carry, s)

    block_step = maybe_step if skip_negative else step

    def block(outer, k):  # the steps up to evaluation point k, then the evaluation
        carry, h = outer
        at = first + k * every
        carry, block_losses = jax.lax.scan(block_step, carry, at - every + 1 + jnp.arange(every))
        metrics = evaluate(carry[0])
        if hook is not None:
            h = hook.update(h, carry[0], metrics, at)
        return (carry, h), (metrics, block_losses)

    (carry, h_state), (metrics, block_losses) = jax.lax.scan(block, (carry, h_state), jnp.arange(n_evals))
    block_losses = block_losses.reshape(-1)
    losses.append(block_losses[every - 1 - first:] if skip_negative else block_losses)
    if last + 1 < num_updates:  # steps after the last evaluation
        carry, tail = steps(carry, last + 1, num_updates)
        losses.append(tail)
    metrics = dict(metrics)
    metrics["step"] = jnp.asarray(points, jnp.int32)
    metrics["batch_loss"] = jnp.concatenate(losses)
    return carry[0], metrics, h_state


def _train_loop_at(step, carry, h_state, points: list[int], num_updates: int, evaluate, hook):
    """`train_loop` with evaluations after the updates ``points``: a scan over the evaluations whose body runs
    the updates since the previous one as a ``fori_loop`` (traced bounds: one compiled step for every stretch;
    the bounds are the same for every run of a vmap, so it stays one loop)."""
    at = jnp.asarray(points, jnp.int32)
    starts = jnp.concatenate([jnp.zeros(1, jnp.int32), at[:-1] + 1])
    loss_shape = jax.eval_shape(step, carry, jnp.int32(0))[1]
    losses = jnp.zeros((num_updates, *loss_shape.shape), loss_shape.dtype)

    def run(start, stop, carry, losses):
        def body(s, c):
            carry, losses = c
            carry, loss = step(carry, s)
            return carry, losses.at[s].set(loss)

        return jax.lax.fori_loop(start, stop, body, (carry, losses))

    def block(outer, k):
        carry, h, losses = outer
        carry, losses = run(starts[k], at[k] + 1, carry, losses)
        metrics = evaluate(carry[0])
        if hook is not None:
            h = hook.update(h, carry[0], metrics, at[k])
        return (carry, h, losses), metrics

    (carry, h_state, losses), metrics = jax.lax.scan(block, (carry, h_state, losses), jnp.arange(len(points)))
    if points[-1] + 1 < num_updates:  # steps after the last evaluation
        carry, losses = run(points[-1] + 1, num_updates, carry, losses)
    metrics = dict(metrics)
    metrics["step"] = at
    metrics["batch_loss"] = losses
    return carry[0], metrics, h_state


__all__ = ["Hook", "best_on", "eval_points", "snapshot_at", "train_loop"]
