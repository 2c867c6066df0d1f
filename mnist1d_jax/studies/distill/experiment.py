"""The distillation study's ``run``: for every model, each (T, estimator) candidate meta-trained and the one
validation prefers set against the baselines (random real draws, k-means centres, the whole training set); then
each model's distilled set training the other model."""

from __future__ import annotations

import time

import jax.numpy as jnp
import numpy as np

from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.coresets import class_labels, kmeans_per_class, random_per_class
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.data.templates import NUM_CLASSES
from mnist1d_jax.studies.distill.config import EVAL_SEED, MODELS, DistillConfig
from mnist1d_jax.studies.distill.evaluation import as_sets, best_lr, score_sets
from mnist1d_jax.studies.distill.meta_train import meta_train
from mnist1d_jax.studies.distill.problem import distill_problem


def distill_data(config: DistillConfig):
    """The frozen dataset split into 3,500 meta-training / 500 validation rows (``config.val_fraction``) and the
    1,000 test rows (a `data.splits.Data` with ``x_val``, ``y_val``)."""
    return prepare_data(get_dataset(DatasetConfig()), config.val_fraction, 0)


def distill_model(config, ctx, name: str, data) -> dict:
    """Every (T, estimator) candidate meta-trained and scored on validation; the chosen one's distilled set
    against the baselines at its T."""
    model, labels = MODELS[name], jnp.asarray(class_labels(config.per_class))
    candidates = []
    for steps in config.steps:
        problem = distill_problem(model, steps, data.x, data.y, config.real_batch, config.momentum)
        for estimator in config.estimators:
            learned = meta_train(config, ctx, name, steps, estimator, data)
            scores = score_sets(model, problem, as_sets(learned), learned["log_lr"][None], labels, config, data)
            candidates.append({"steps": steps, "estimator": estimator, **learned,
                               "val": scores["val"][0, 0], "test": scores["test"][0, 0]})
            ctx.log(f"distill {name}: T={steps} {estimator}: validation {scores['val'].mean():.1f} %")
    chosen = max(candidates, key=lambda c: c["val"].mean())
    problem = distill_problem(model, chosen["steps"], data.x, data.y, config.real_batch, config.momentum)
    draws = random_per_class(np.asarray(data.y), config.per_class, config.random_draws, config.meta_seed + 1)
    x_train = np.asarray(data.x)
    baselines = {
        "random": best_lr(model, problem, {"x": jnp.asarray(x_train[draws])}, labels, config, data),
        "kmeans": best_lr(model, problem, {"x": jnp.asarray(kmeans_per_class(x_train, data.y, config.per_class))[
            None]}, labels, config, data),
        "full": best_lr(model, problem, {"x": jnp.asarray(x_train)[None]}, jnp.asarray(data.y), config, data),
    }
    return {"candidates": candidates, "chosen": {"steps": chosen["steps"], "estimator": chosen["estimator"]},
            "distilled": chosen, "baselines": baselines}


def run(config: DistillConfig, ctx) -> dict:
    """Distil for every model, then the cross-architecture transfer."""
    t0 = time.perf_counter()
    data = distill_data(config)
    results = {name: distill_model(config, ctx, name, data) for name in config.models}
    transfer = {}
    labels = jnp.asarray(class_labels(config.per_class))
    for source in config.models:
        for target in config.models:
            if source == target:
                continue
            steps = results[target]["chosen"]["steps"]
            problem = distill_problem(MODELS[target], steps, data.x, data.y, config.real_batch, config.momentum)
            scored = best_lr(MODELS[target], problem, as_sets(results[source]["distilled"]), labels, config, data)
            transfer[f"{source}->{target}"] = {"steps": steps, **scored}
    y = np.asarray(data.y)
    class_means = np.stack([np.asarray(data.x)[y == c].mean(0) for c in range(NUM_CLASSES)])
    return {"models": results, "transfer": transfer, "eval_seeds": [EVAL_SEED + i for i in range(config.eval_inits)],
            "labels": class_labels(config.per_class), "class_means": class_means,
            "runtime": {"total_s": time.perf_counter() - t0}}
