"""How the distillation study scores a training set: the validation and test accuracy (%) of nets trained on it
from the unseen evaluation inits, and the step size of the grid that validation prefers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.studies.distill.config import EVAL_SEED
from mnist1d_jax.studies.distill.problem import correct


def eval_keys(config):
    """``[I]`` keys of the ``config.eval_inits`` evaluation inits (from `EVAL_SEED` on: never a meta-training key)."""
    return jnp.stack([jax.random.key(EVAL_SEED + i) for i in range(config.eval_inits)])


def score_sets(model, problem, sets, log_lrs, labels, config, data) -> dict:
    """Validation and test accuracy (%) ``[L, S, I]`` of each set at each step size (one program for both)."""
    x = jnp.concatenate([data.x_val, data.x_test])
    y = jnp.concatenate([data.y_val, data.y_test])
    n_val = data.x_val.shape[0]
    hits = np.asarray(correct(model, problem, sets, jnp.asarray(log_lrs, jnp.float32), labels, eval_keys(config),
                              x, y))
    return {"val": 100.0 * hits[..., :n_val].mean(-1), "test": 100.0 * hits[..., n_val:].mean(-1)}


def best_lr(model, problem, sets, labels, config, data) -> dict:
    """The grid's step size with the best mean validation accuracy over sets × inits, and its scores."""
    scores = score_sets(model, problem, sets, np.log(np.asarray(config.lr_grid, np.float32)), labels, config, data)
    per_lr = scores["val"].mean(axis=(1, 2))
    best = int(np.argmax(per_lr))
    return {"lr": float(config.lr_grid[best]), "val": scores["val"][best], "test": scores["test"][best],
            "val_per_lr": [float(v) for v in per_lr]}


def as_sets(learned: dict) -> dict:
    """A learned set as `correct`'s ``sets`` (a leading axis of one)."""
    sets = {"x": jnp.asarray(learned["x"])[None]}
    if learned.get("labels") is not None:
        sets["labels"] = jnp.asarray(learned["labels"])[None]
    return sets
