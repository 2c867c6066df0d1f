"""The few-shot study's tasks, estimators and scores, per K: the task samplers of one K over the banks and the
real digits, each method's batched estimator and starting parameters, and query accuracies over many tasks."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax import meta
from mnist1d_jax.data.new_classes import sample_real_task, sample_task
from mnist1d_jax.studies.few_shot.methods import (
    Draw,
    finetune_correct,
    first_order,
    init_classifier,
    maml_correct,
    maml_problem,
    pretrain,
    proto_correct,
    protonet,
    trunk_params,
)


def ci95(acc) -> float:
    """Half-width of the normal 95 % interval of the mean of ``acc`` (per-task accuracies)."""
    acc = np.asarray(acc, float)
    return float(1.96 * acc.std(ddof=1) / np.sqrt(acc.size))


def task_keys(seed: int, k: int, n: int) -> jax.Array:
    """``[n]`` task keys for K = `k` from `seed` (one of the config's ``*_SEED``: never a training step's key)."""
    return jax.random.split(jax.random.fold_in(jax.random.key(seed), k), n)


class Tasks:
    """The task samplers of one K: ``draw(split)(key, context)`` and ``contexts[split]`` for the splits
    ``train``, ``val``, ``new`` (test templates) and ``digits`` (real digits ``(x, y)``)."""

    def __init__(self, n_way: int, k: int, n_query: int, bank, digits):
        self.n_way, self.k = n_way, k
        self.new = lambda key, templates: sample_task(key, templates, n_way, k, n_query)
        self.real = lambda key, xy: sample_real_task(key, xy[0], xy[1], n_way, k, n_query)
        self.contexts = {"train": jnp.asarray(bank.train), "val": jnp.asarray(bank.val),
                         "new": jnp.asarray(bank.test), "digits": digits}
        self.programs: dict = {}  # compiled scorers, by (method kind, task source): see `accuracies`

    def draw(self, split: str) -> Draw:
        return self.real if split == "digits" else self.new


def estimator_and_start(config, method: str, tasks: Tasks, key) -> tuple[meta.Estimator, dict]:
    """`method`'s estimator (batched over ``config.meta_batch`` tasks; pre-training's over its examples) and its
    starting parameters drawn from `key`."""
    n = tasks.n_way
    if method == "pretrain":
        return pretrain(config.pretrain_batch), init_classifier(key, config.train_templates)
    start = init_classifier(key, n)
    if method == "protonet":
        return meta.batched(protonet(tasks.new, n), config.meta_batch), trunk_params(start)
    problem = maml_problem(tasks.new, n, config.inner_steps, config.inner_lr)
    # five inner steps: storing every step's residuals is cheap, so no recomputation (checkpoint=False)
    est = meta.exact(problem, checkpoint=False) if method == "maml" else first_order(problem)
    return meta.batched(est, config.meta_batch), start


def accuracies(config, method: str, tasks: Tasks, params, split: str, keys: jax.Array) -> np.ndarray:
    """Query accuracies (%) of `method` with trained `params` on the tasks ``keys [n]`` of `split`: ``[n]``, or
    ``[n, L]`` for the pre-trained net (one per fine-tuning step size). Vmapped in blocks of
    ``config.eval_block`` tasks. One compiled program per method kind (MAML and first-order MAML adapt alike)
    and task source (a template bank, or digits), kept in ``tasks.programs``: params, context and keys are its
    arguments, so validation and test (banks of one size) reuse it."""
    kind = "maml" if method in ("maml", "fomaml") else method
    source = "digits" if split == "digits" else "bank"
    program = tasks.programs.get((kind, source))
    if program is None:
        draw, n = tasks.draw(split), tasks.n_way
        lrs = jnp.asarray(config.finetune_lrs, jnp.float32)
        problem = maml_problem(draw, n, config.inner_steps, config.inner_lr)

        def one(p, context, key):
            if kind == "pretrain":
                return finetune_correct(p, draw, n, config.finetune_steps, lrs, key, context)
            if kind == "protonet":
                return proto_correct(p, draw, n, key, context)
            return maml_correct(problem, p, key, context)

        program = jax.jit(lambda p, c, ks: jax.lax.map(lambda k: one(p, c, k), ks, batch_size=config.eval_block))
        tasks.programs[(kind, source)] = program
    return 100.0 * np.asarray(program(params, tasks.contexts[split], keys))
