"""One distilled set meta-trained: synthetic inputs, soft labels and step sizes updated by Adam along the exact
or truncated meta-gradient, resumable from the study's store."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax import meta
from mnist1d_jax.data.coresets import class_labels, random_per_class
from mnist1d_jax.data.templates import NUM_CLASSES
from mnist1d_jax.studies.distill.config import MODELS
from mnist1d_jax.studies.distill.problem import distill_problem


def meta_train(config, ctx, name: str, steps: int, estimator: str, data) -> dict:
    """One distilled set for `name`'s model, horizon `steps` and `estimator`, resumable from ``ctx.store``."""
    labels = jnp.asarray(class_labels(config.per_class))
    problem = distill_problem(MODELS[name], steps, data.x, data.y, config.real_batch, config.momentum)
    est = meta.exact(problem) if estimator == "exact" else meta.truncated(problem, config.window)
    first = random_per_class(np.asarray(data.y), config.per_class, 1, config.meta_seed)[0]
    log_lr = jnp.log(jnp.full((steps,) if config.per_step_lr else (), config.initial_lr, jnp.float32))
    start = {"x": jnp.asarray(data.x)[first], "log_lr": log_lr}
    if config.learn_labels:
        start["labels"] = 5.0 * jax.nn.one_hot(labels, NUM_CLASSES)
    tag = {"model": name, "steps": steps, "estimator": estimator,
           **{k: v for k, v in config.to_dict().items() if k not in ("models", "steps", "estimators",
                                                                      "eval_inits", "random_draws", "lr_grid")}}
    bar = ctx.bar(config.outer_steps, f"distill {name}, T={steps}, {estimator}", "outer step")
    timing: dict = {}
    try:
        state, metrics = meta.run_outer(
            est, optax.adam(config.outer_lr), start, labels, config.outer_steps, key=jax.random.key(config.meta_seed),
            chunk=config.chunk, checkpoint=meta.Checkpoint(ctx.store, f"meta_{name}_T{steps}_{estimator}", tag),
            on_chunk=lambda st, _: bar.update(int(st.step) - bar.n), timing=timing)
    finally:
        bar.close()
    return {"x": np.asarray(state.meta["x"]), "log_lr": np.asarray(state.meta["log_lr"]),
            "labels": np.asarray(state.meta["labels"]) if config.learn_labels else None,
            "objective": np.asarray(metrics["value"]), "seconds": timing["wall_s"],
            "s_per_outer_step": timing["wall_s"] / config.outer_steps, "cost": dict(est.cost._asdict())}
