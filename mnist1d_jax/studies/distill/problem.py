"""The distillation study's inner problem, in one short place: T full-batch steps of SGD with momentum from a
fresh init on a (distilled, drawn or full) training set, and which held-out examples the trained nets get right."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from mnist1d_jax import meta


def soft_cross_entropy(logits, targets):
    """Mean cross-entropy of ``logits [B, C]`` against target distributions ``targets [B, C]``."""
    return -jnp.mean(jnp.sum(targets * jax.nn.log_softmax(logits), axis=-1))


def distill_problem(model, steps: int, x_real, y_real, real_batch: int,
                    momentum: float = 0.0) -> meta.InnerProblem:
    """T full-batch SGD steps (with `momentum`) of `model` (a fresh init from the key) on the training set
    ``meta["x"] [M, 40]`` with step ``exp(meta["log_lr"])`` (a scalar, or ``[T]``: one per step) and targets
    ``softmax(meta["labels"] [M, 10])`` when meta has learned labels, else the context's hard labels
    (``y [M]``): the same problem trains on a distilled set, a real draw or the whole training set. The
    objective: the cross-entropy on `real_batch` rows of ``x_real``, ``y_real`` drawn with its key."""
    task = meta.classifier_task(model)

    def real_loss(m, params, key, context):
        rows = jax.random.choice(key, x_real.shape[0], (real_batch,), replace=False)
        return task.loss(params, (x_real[rows], y_real[rows]))

    def train_loss(m, params, batch):
        x, y = batch
        logits = model.apply({"params": params}, x)
        if "labels" in m:
            return soft_cross_entropy(logits, jax.nn.softmax(m["labels"]))
        return soft_cross_entropy(logits, jax.nn.one_hot(y, logits.shape[-1]))

    def rate(m):
        u = m["log_lr"]
        return jnp.exp(u) if u.ndim == 0 else (lambda count: jnp.exp(u[jnp.minimum(count, u.shape[0] - 1)]))

    return meta.inner_problem(task, lambda m: optax.sgd(rate(m), momentum=momentum or None),
                              lambda m, t, key, y: (m["x"], y), steps,
                              loss=train_loss, objective=real_loss)


def correct(model, problem, sets: dict, log_lrs, labels, keys, x, y) -> jax.Array:
    """``[L, S, I, N]`` bool: whether each example of ``x, y`` is classified right by the net trained by
    `problem` on each set (``sets["x"] [S, M, 40]``, and ``sets["labels"] [S, M, 10]`` when learned, else the hard
    ``labels [M]``) at each step size ``exp(log_lrs [L, ...])`` from each init ``keys [I]``: one program."""
    def one(set_meta, u, key):
        state, _ = meta.run_inner(problem, {**set_meta, "log_lr": u}, key, labels)
        return jnp.argmax(model.apply({"params": state.params}, x), -1) == y

    per_init = jax.vmap(one, in_axes=(None, None, 0))
    per_set = jax.vmap(per_init, in_axes=(0, None, None))
    return jax.jit(jax.vmap(per_set, in_axes=(None, 0, None)))(sets, log_lrs, keys)
