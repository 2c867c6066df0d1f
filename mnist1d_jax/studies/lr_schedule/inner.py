"""The inner run of the learned-schedule study, one definition for meta-training and evaluation: the Table-1
MLP trained by Adam at a per-step rate, its data split, batch order and initial parameters, and the inner
problem PES differentiates (`make_problem`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from mnist1d_jax import meta as metalib
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.nn.models import MLP
from mnist1d_jax.studies.lr_schedule.config import ScheduleStudyConfig
from mnist1d_jax.studies.lr_schedule.schedules import rate_at

_MODEL = MLP()
_TASK = metalib.classifier_task(_MODEL)
_ADAM = optax.scale_by_adam()


def load_data(config: ScheduleStudyConfig, classes=None):
    """The frozen dataset split into ``val_fraction`` validation rows (validation seed 0) and the rest to train
    on, only the digits `classes` kept (None: all ten)."""
    return prepare_data(get_dataset(DatasetConfig()), config.val_fraction, 0, classes=classes)


def _adam_step(state, t, lr, ctx: dict, data):
    """One Adam step of the Table-1 MLP at rate `lr` on batch t of ``ctx["idx"]``: the inner step of both the
    meta-training runs and the evaluation runs."""
    params, opt = state
    idx = ctx["idx"][t]
    grads = jax.grad(_TASK.loss)(params, (data.x[idx], data.y[idx]))
    updates, opt = _ADAM.update(grads, opt, params)
    return jax.tree.map(lambda p, u: p - lr * u, params, updates), opt


def _batch_indices(key, config: ScheduleStudyConfig, n_train: int) -> jax.Array:
    """``[inner_steps, batch]`` int32: a fresh permutation of the training rows per epoch."""
    per_epoch = n_train // config.batch_size
    epochs = -(-config.inner_steps // per_epoch)
    perms = jax.vmap(lambda k: jax.random.permutation(k, n_train))(jax.random.split(key, epochs))
    idx = perms[:, : per_epoch * config.batch_size].reshape(epochs * per_epoch, config.batch_size)
    return idx[: config.inner_steps]


def make_context(seed, config: ScheduleStudyConfig, n_train: int) -> dict:
    """One run's randomness: ``params0`` (the zoo init) and ``idx [T, B]`` (its batch order)."""
    k_init, k_batches = jax.random.split(jax.random.key(seed))
    return {"params0": _TASK.init(k_init), "idx": _batch_indices(k_batches, config, n_train)}


def make_problem(config: ScheduleStudyConfig, data) -> metalib.InnerProblem:
    """The inner run as a `meta.InnerProblem`: meta the knots ``log_lr [knots]``; context from `make_context`
    (the key is unused: each meta seed keeps its init and batch order); state ``(params, adam state)``; step t
    one Adam step at rate η_t on batch t, its loss the soft validation error after the update. The objective
    averages that error over the last ``objective_steps`` steps (the weights), on a rotating validation batch:
    an objective *along* the trajectory, not of the final state only, so it is the steps' loss rather than the
    problem's end-of-run ``objective``; it is computed only where it carries weight (0 elsewhere)."""
    x_val, y_val = data.x_val, data.y_val
    n_val, first = x_val.shape[0], config.inner_steps - config.objective_steps

    def init(log_lr, key, ctx):
        return ctx["params0"], _ADAM.init(ctx["params0"])

    def soft_error(params, t):
        start = (t * config.val_batch) % (n_val - config.val_batch + 1)
        xv = jax.lax.dynamic_slice_in_dim(x_val, start, config.val_batch)
        yv = jax.lax.dynamic_slice_in_dim(y_val, start, config.val_batch)
        p = jax.nn.softmax(_MODEL.apply({"params": params}, xv))
        return 1.0 - jnp.mean(jnp.take_along_axis(p, yv[:, None], axis=1))

    def step(log_lr, state, t, key, ctx):
        params, opt = _adam_step(state, t, rate_at(log_lr, t, config), ctx, data)
        # t is the same for every particle and seed (not batched), so this stays a branch under vmap
        loss = jax.lax.cond(t >= first, lambda: soft_error(params, t), lambda: jnp.zeros((), jnp.float32))
        return (params, opt), loss

    weights = (jnp.arange(config.inner_steps) >= first).astype(jnp.float32) / config.objective_steps
    return metalib.InnerProblem(init, step, config.inner_steps, weights)


def train_with_rates(rates: jax.Array, ctx: dict, config: ScheduleStudyConfig, data) -> dict:
    """Train with the per-step rates ``rates [T]`` from `ctx`: validation and test accuracy (%) at the end."""
    def body(state, t):
        return _adam_step(state, t, rates[t], ctx, data), None

    (params, _), _ = jax.lax.scan(body, (ctx["params0"], _ADAM.init(ctx["params0"])), jnp.arange(config.inner_steps))
    acc = lambda x, y: 100.0 * jnp.mean(jnp.argmax(_MODEL.apply({"params": params}, x), -1) == y)  # noqa: E731
    return {"val_acc": acc(data.x_val, data.y_val), "test_acc": acc(data.x_test, data.y_test)}
