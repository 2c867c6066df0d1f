"""The few-shot study's four methods on one backbone, each as a `meta.Estimator` over one task, and their
per-task scores (the study's tasks and the scores over many of them: `tasks`).

Backbone: the Table-1 CNN's convolutions (3 × [conv k 5/3/3, stride 2, pad 1, 25 channels, ReLU]; 40 -> 5
positions × 25 channels = 125 features), with a linear head where a method has one. A task is drawn by
``draw(key, context) -> FewShotTask`` (``data.new_classes``): the context is a template bank or real digits.

* MAML (`maml_problem`): a `meta.InnerProblem` whose ``init`` draws the task from its key and starts at the
  meta-parameters (the whole CNN's init, N-way head included); ``step`` is one gradient step on the support
  set at a fixed step size; the objective is the query cross-entropy after the last step. ``meta.exact`` of it
  is second-order MAML (reverse mode through the unroll, the inner gradients' Jacobians included).
* first-order MAML (`first_order`): the same run forward, then the gradient of the query loss at the adapted
  parameters taken as the meta-gradient, through ``meta.from_value_and_grad``.
* prototypical networks (`protonet`): the class means of the support embeddings (the 125 features) are the
  prototypes; logits are minus squared Euclidean distances; the meta-gradient is that of the query
  cross-entropy, again through ``meta.from_value_and_grad``.
* pre-train and fine-tune (`pretrain`, `finetune_correct`): the CNN with one output per training template is
  trained on fresh examples of the training bank (one big softmax); on a task its convolutions are frozen and a
  new N-way linear head, starting at zero, takes full-batch gradient steps on the support set.

Every estimator is per task; ``meta.batched`` averages it over a batch of tasks for ``meta.run_outer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax import meta
from mnist1d_jax.core.step import cross_entropy
from mnist1d_jax.data.new_classes import FewShotTask
from mnist1d_jax.data.sampler import render
from mnist1d_jax.nn.init import init_params
from mnist1d_jax.nn.models import CNN

Draw = Callable[[jax.Array, object], FewShotTask]
TRUNK = CNN(head=False)  # (B, 40) -> (B, 125) features
HEAD = "Dense_0"  # the head's name in a CNN's params


def classifier(n_out: int) -> CNN:
    """The backbone with an ``n_out``-way linear head."""
    return CNN(num_classes=n_out)


def init_classifier(key: jax.Array, n_out: int):
    return init_params(classifier(n_out), key, 40)


def trunk_params(params) -> dict:
    """A classifier's params without its head: the params of `TRUNK`."""
    return {k: v for k, v in params.items() if k != HEAD}


def features(params, x: jax.Array) -> jax.Array:
    """``(B, 40) -> (B, 125)`` with a classifier's (or the trunk's) params."""
    return TRUNK.apply({"params": trunk_params(params)}, x)


def accuracy(logits: jax.Array, y: jax.Array) -> jax.Array:
    return jnp.mean(jnp.argmax(logits, -1) == y)


# ----------------------------------------------------------------------------------------------------------------
# MAML
class MamlState(NamedTuple):
    """The inner state of a MAML run: the adapted ``params`` and the ``task`` drawn at ``init``."""

    params: dict
    task: FewShotTask


def maml_problem(draw: Draw, n_way: int, steps: int, inner_lr: float) -> meta.InnerProblem:
    """MAML as an inner problem: meta = the classifier's init; `steps` SGD steps of size `inner_lr` on the
    support set; objective = query cross-entropy; metrics = query accuracy."""
    model = classifier(n_way)

    def logits(params, x):
        return model.apply({"params": params}, x)

    def init(m, key, context):
        return MamlState(m, draw(key, context))

    def step(m, state, t, key, context):
        task = state.task
        loss, g = jax.value_and_grad(lambda p: cross_entropy(logits(p, task.support_x), task.support_y))(
            state.params)
        return MamlState(jax.tree.map(lambda w, d: w - inner_lr * d, state.params, g), task), loss

    def objective(m, state, key, context):
        return cross_entropy(logits(state.params, state.task.query_x), state.task.query_y)

    def metrics(m, state, key, context):
        return {"accuracy": accuracy(logits(state.params, state.task.query_x), state.task.query_y)}

    return meta.InnerProblem(init, step, steps, objective=objective, metrics=metrics)


def first_order(problem: meta.InnerProblem) -> meta.Estimator:
    """First-order MAML: the inner run forward (`meta.run_inner`, the same keys as ``meta.exact``), then the
    gradient of the objective in the adapted params, used as the gradient in the init (the inner gradients'
    Jacobians dropped)."""
    def value_and_grad(m, key, context):
        final, losses = meta.run_inner(problem, m, key, context)
        after = meta.run_keys(meta.problem.split_estimator_key(key)[0]).after(problem.num_steps)
        value, g = jax.value_and_grad(lambda p: problem.objective(m, final._replace(params=p), after, context))(
            final.params)
        return (value, {"losses": losses, "metrics": problem.metrics(m, final, after, context)}), g

    n = problem.num_steps
    return meta.from_value_and_grad(value_and_grad, meta.Cost(n + 1, 1, 0, 1), "first-order MAML")


def gradient_agreement(problem: meta.InnerProblem, m, keys: jax.Array, context, block: int) -> dict:
    """How far first-order MAML's meta-gradient is from the exact one at the init `m`, per task (the tasks of
    ``keys [n]``, vmapped in blocks of `block`): the cosine of the two gradients averaged over the tasks, the
    median of the per-task cosines, and the median and largest per-task norms of each (floats)."""
    exact, first = meta.exact(problem, checkpoint=False), first_order(problem)

    def flat(tree):
        return jnp.concatenate([x.ravel() for x in jax.tree.leaves(tree)])

    def one(key):
        return flat(exact.grad(m, (), key, context)[1]), flat(first.grad(m, (), key, context)[1])

    g2, g1 = (np.asarray(g, np.float64) for g in jax.jit(lambda ks: jax.lax.map(one, ks, batch_size=block))(keys))
    n2, n1 = np.linalg.norm(g2, axis=1), np.linalg.norm(g1, axis=1)
    mean2, mean1 = g2.mean(0), g1.mean(0)
    return {"cosine_of_means": float(mean2 @ mean1 / (np.linalg.norm(mean2) * np.linalg.norm(mean1))),
            "median_task_cosine": float(np.median(np.sum(g2 * g1, axis=1) / (n2 * n1))),
            "exact_norm_median": float(np.median(n2)), "exact_norm_max": float(n2.max()),
            "first_order_norm_median": float(np.median(n1)), "first_order_norm_max": float(n1.max())}


def maml_correct(problem: meta.InnerProblem, m, key, context) -> jax.Array:
    """Query accuracy after adaptation on the task of `key` (the run `meta.exact` would make)."""
    final, _ = meta.run_inner(problem, m, key, context)
    return problem.metrics(m, final, key, context)["accuracy"]  # (the metric uses no key)


# ----------------------------------------------------------------------------------------------------------------
# prototypical networks
def proto_logits(params, task: FewShotTask, n_way: int) -> jax.Array:
    """``(N*Q, N)`` minus squared distances of the query embeddings to the class means of the support's."""
    support = features(params, task.support_x)
    prototypes = jax.ops.segment_sum(support, task.support_y, n_way) / (support.shape[0] // n_way)
    query = features(params, task.query_x)
    return -jnp.sum((query[:, None] - prototypes[None]) ** 2, axis=-1)


def protonet(draw: Draw, n_way: int) -> meta.Estimator:
    """Prototypical networks: meta = the trunk's params; the value is the query cross-entropy of one task."""
    def value_and_grad(m, key, context):
        task = draw(key, context)

        def loss(p):
            logits = proto_logits(p, task, n_way)
            return cross_entropy(logits, task.query_y), accuracy(logits, task.query_y)

        (value, acc), g = jax.value_and_grad(loss, has_aux=True)(m)
        return (value, {"metrics": {"accuracy": acc}}), g

    return meta.from_value_and_grad(value_and_grad, meta.Cost(1, 1, 0, 1), "prototypical")


def proto_correct(params, draw: Draw, n_way: int, key, context) -> jax.Array:
    task = draw(key, context)
    return accuracy(proto_logits(params, task, n_way), task.query_y)


# ----------------------------------------------------------------------------------------------------------------
# pre-train on the training bank, fine-tune the last layer
def pretrain(batch: int, config=None) -> meta.Estimator:
    """Supervised pre-training as an estimator: meta = a classifier with one output per row of the context
    (the training bank ``(C, 12)``); the value is the cross-entropy of `batch` fresh examples of uniformly
    drawn templates (all drawn from the key)."""
    def value_and_grad(m, key, templates):
        k_y, k_x = jax.random.split(key)
        y = jax.random.randint(k_y, (batch,), 0, templates.shape[0])
        x = render(k_x, templates, y, config)

        def loss(p):
            logits = classifier(templates.shape[0]).apply({"params": p}, x)
            return cross_entropy(logits, y), accuracy(logits, y)

        (value, acc), g = jax.value_and_grad(loss, has_aux=True)(m)
        return (value, {"metrics": {"accuracy": acc}}), g

    return meta.from_value_and_grad(value_and_grad, meta.Cost(1, 1, 0, 1), "pre-training")


def finetune_correct(params, draw: Draw, n_way: int, steps: int, lrs: jax.Array, key, context) -> jax.Array:
    """``[L]`` query accuracies of a new N-way head trained on the support features (frozen trunk) by `steps`
    full-batch gradient steps from zero, one per step size in ``lrs [L]`` (one task, one feature pass)."""
    task = draw(key, context)
    support, query = features(params, task.support_x), features(params, task.query_x)

    def train(lr):
        def one(head, _):
            g = jax.grad(lambda h: cross_entropy(support @ h["w"] + h["b"], task.support_y))(head)
            return jax.tree.map(lambda p, d: p - lr * d, head, g), None

        zero = {"w": jnp.zeros((support.shape[1], n_way)), "b": jnp.zeros((n_way,))}
        head, _ = jax.lax.scan(one, zero, None, length=steps)
        return accuracy(query @ head["w"] + head["b"], task.query_y)

    return jax.vmap(train)(lrs)


__all__ = ["HEAD", "TRUNK", "Draw", "MamlState", "accuracy", "classifier", "features", "finetune_correct",
           "first_order", "gradient_agreement", "init_classifier", "maml_correct", "maml_problem", "proto_correct",
           "proto_logits", "protonet", "pretrain", "trunk_params"]
