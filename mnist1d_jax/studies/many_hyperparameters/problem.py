"""The inner problem of the many-hyperparameters study: the Table-1 MLP trained by Adam under a weight decay per
parameter (meta: the log decays, a pytree shaped like the parameters), its data split, and the two
hypergradient estimators of the alternating scheme."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from mnist1d_jax import meta
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import Data, prepare_data
from mnist1d_jax.nn.models import MLP
from mnist1d_jax.studies.many_hyperparameters.config import ManyHyperparametersConfig

MODEL = MLP()  # the Table-1 MLP: 15,210 parameters, so 15,210 hyperparameters


def load_data(config: ManyHyperparametersConfig, classes=None) -> Data:
    """The frozen dataset split into ``val_fraction`` validation rows (validation seed 0) and the rest to train
    on; under a class subset `classes` every run sees only the kept digits."""
    return prepare_data(get_dataset(DatasetConfig()), config.val_fraction, 0, classes=classes)


def penalty(log_decay, params) -> jax.Array:
    """``½ Σ_i exp(u_i) θ_i²``: the coupled weight decay of every parameter (``log_decay`` shaped like params)."""
    terms = [jnp.sum(jnp.exp(u) * jnp.square(p))
             for u, p in zip(jax.tree.leaves(log_decay), jax.tree.leaves(params), strict=True)]
    return 0.5 * sum(terms)


def accuracy(model, params, x, y) -> jax.Array:
    """Accuracy in % of ``params`` on ``x [N, 40]``, ``y [N]``."""
    return 100.0 * jnp.mean(jnp.argmax(model.apply({"params": params}, x), -1) == y)


def decay_problem(model, data: Data, num_steps: int, batch_size: int, lr: float,
                  hessian_batch: int) -> meta.InnerProblem:
    """`num_steps` Adam steps (step `lr`) of `model` from the context's params on batches of `batch_size`
    training rows drawn with each step's key; loss: cross-entropy + `penalty` (meta: the log decays, shaped like
    params). Objective: the validation cross-entropy; ``train_loss`` (for the implicit estimator) the same loss
    on `hessian_batch` training rows (all of them when it is at least their number); metrics: train / val / test
    accuracy (%) and the test cross-entropy."""
    task = meta.classifier_task(model)
    n = data.x.shape[0]

    def rows(key, size):
        if size >= n:  # (the whole training set, also when a class subset leaves fewer rows)
            return data.x, data.y
        r = jax.random.choice(key, n, (size,), replace=False)
        return data.x[r], data.y[r]

    def loss(m, params, batch):
        return task.loss(params, batch) + penalty(m, params)

    def metrics(m, params, key, context):
        return {"train_acc": accuracy(model, params, data.x, data.y),
                "val_acc": accuracy(model, params, data.x_val, data.y_val),
                "test_acc": accuracy(model, params, data.x_test, data.y_test),
                "test_loss": task.loss(params, (data.x_test, data.y_test))}

    return meta.inner_problem(
        task, optax.adam(lr), lambda m, t, key, c: rows(key, batch_size), num_steps, loss=loss,
        init=lambda m, key, params0: params0,
        objective=lambda m, params, key, c: task.loss(params, (data.x_val, data.y_val)),
        train_loss=lambda m, params, key, c: loss(m, params, rows(key, hessian_batch)),
        metrics=metrics)


def full_decays(params, value) -> dict:
    """Log decays shaped like `params`, all ``log(value)`` (``-inf`` for 0: no decay)."""
    return jax.tree.map(lambda p: jnp.full(p.shape, jnp.log(value), jnp.float32), params)


def make_estimator(method: str, config: ManyHyperparametersConfig, data: Data) -> meta.Estimator:
    """The alternating scheme's hypergradient: implicit (K steps from the carried state, then the Neumann
    solve) or online truncated backprop (windows of K steps of one run of total_steps)."""
    if method == "implicit":
        problem = decay_problem(MODEL, data, config.inner_steps, config.batch_size, config.inner_lr,
                                config.hessian_batch)
        return meta.implicit(problem, solver="neumann", iterations=config.neumann_iterations,
                             neumann_alpha=config.neumann_alpha, warm_start=True)
    problem = decay_problem(MODEL, data, config.total_steps, config.batch_size, config.inner_lr,
                            config.hessian_batch)
    return meta.truncated(problem, config.inner_steps, online=True)
