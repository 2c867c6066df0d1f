"""Whole training runs with the decays held fixed: baselines (a) no decay and (b) one decay for every
parameter, and the retraining of a learned set of decays from the same inits."""

from __future__ import annotations

import jax

from mnist1d_jax import meta
from mnist1d_jax.data.splits import Data
from mnist1d_jax.studies.many_hyperparameters.problem import MODEL, decay_problem


def fixed_run(config, data: Data):
    """``one(log_decay, params0, key) -> final metrics``: a whole training run with the decays held fixed."""
    problem = decay_problem(MODEL, data, config.total_steps, config.batch_size, config.inner_lr,
                            config.hessian_batch)

    def one(u, p0, key):
        state, _ = meta.run_inner(problem, u, key, p0)
        return problem.metrics(u, state, key, None)

    return one


def train_grid(config, data: Data, log_decays, params0, keys) -> dict:
    """Every fixed decay × every seed in one program: ``log_decays`` [G, ...] (each shaped like params),
    ``params0`` and ``keys`` [S] → final metrics ``[G, S]``."""
    per_seed = jax.vmap(fixed_run(config, data), in_axes=(None, 0, 0))
    return jax.device_get(jax.jit(jax.vmap(per_seed, in_axes=(0, None, None)))(log_decays, params0, keys))
