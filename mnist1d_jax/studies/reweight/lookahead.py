"""Ren et al.'s example weights: the look-ahead SGD step as a one-step inner problem whose meta is the
per-example weight eps, and the normalised negative meta-gradient at eps = 0 that weighs the real step."""

from __future__ import annotations

import jax.numpy as jnp
import optax

from mnist1d_jax import meta
from mnist1d_jax.core.step import apply_mask, cross_entropy
from mnist1d_jax.studies.reweight.mwnet import per_example_nll


def lookahead_problem(model, learning_rate: float, x_val, y_val) -> meta.InnerProblem:
    """One SGD step (`learning_rate`, no momentum) of `model` from ``context["params"]`` (masked by
    ``context["mask"]``) on ``sum_i meta[i] * loss_i`` over the batch ``context["x"] (B, D), ["y"] (B,)``;
    ``meta`` is eps ``(B,)``; the objective is the mean cross-entropy on ``x_val (V, D), y_val (V,)``."""
    def logits(params, mask, x):
        return model.apply({"params": apply_mask(params, mask)}, x)

    def weighted_loss(eps, params, batch):
        x, y, mask = batch
        return jnp.sum(eps * per_example_nll(logits(params, mask, x), y))

    def clean_loss(eps, params, key, context):
        return cross_entropy(logits(params, context["mask"], x_val), y_val)

    return meta.inner_problem(meta.classifier_task(model), optax.sgd(learning_rate),
                              lambda eps, t, key, c: (c["x"], c["y"], c["mask"]), num_steps=1,
                              loss=weighted_loss, init=lambda eps, key, c: c["params"], objective=clean_loss)


def normalise(score):
    """``max(score, 0)`` scaled to sum 1 over the batch ``(B,)``; all zero when no score is positive."""
    raw = jnp.maximum(score, 0.0)
    total = jnp.sum(raw)
    return jnp.where(total > 0, raw / jnp.where(total > 0, total, 1.0), 0.0)


def make_weigh(problem: meta.InnerProblem, estimator: str = "exact"):
    """``weigh(params, mask, (x (B, D), y (B,)), key) -> w (B,)`` for ``sweeps.train_weighted``: the normalised
    negative meta-gradient of `problem`'s objective with respect to eps at eps = 0."""
    est = meta.exact(problem, checkpoint=False) if estimator == "exact" else meta.forward(problem)

    def weigh(params, mask, batch, key):
        x, y = batch
        context = {"params": params, "mask": mask, "x": x, "y": y}
        _, grad, _ = est.grad(jnp.zeros(y.shape, jnp.float32), (), key, context)
        return normalise(-grad)

    return weigh
