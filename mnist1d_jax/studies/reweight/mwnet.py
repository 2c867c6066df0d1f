"""Meta-Weight-Net for the reweighting study (after Shu et al. 2019, written here from the paper).

A tiny MLP ``V(l; theta)`` (1 -> 100 -> 1, ReLU then sigmoid) maps an example's loss ``l`` to its weight in
(0, 1). Every training step of the classifier (params ``w``, learning rate ``alpha``):

1. look-ahead: ``w'(theta) = w - alpha * grad_w sum_i v_i(theta) l_i(w)`` with ``v_i = V(l_i; theta) /
   sum_j V(l_j; theta)`` (the weights normalised by their batch *sum*, so they sum to 1 like plain training's
   1/B; the net sees the loss value only, ``stop_gradient(l_i)``, as in the paper);
2. meta step: the clean-validation cross-entropy at ``w'(theta)`` differentiated w.r.t. ``theta`` (a one-step
   `meta.InnerProblem` whose meta is theta, its exact reverse-mode estimator called inside the training scan),
   then one Adam step on theta (its state carried through the scan);
3. the real step (``sweeps.train_weighted``, SGD with momentum) on ``sum_i v_i(theta_new) l_i(w)``.

Each (width, seed) run has its own MW-Net, initialised from its own key (Flax's Dense defaults) inside the
vmapped program. Compared with Ren et al.'s one-shot weights (``max(-grad, 0)`` at eps = 0), the weight is a
smooth, slowly learned function of the loss shared by all examples, so it can only rank examples by their loss.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import linen as nn

from mnist1d_jax import meta
from mnist1d_jax.core.step import apply_mask, cross_entropy
from mnist1d_jax.core.sweeps import StatefulWeigh
from mnist1d_jax.nn.init import init_params

HIDDEN = 100
VERSION = 2  # in the store's tags: bumped whenever the net or its init draws change (2: named layers)


class MWNet(nn.Module):
    """``(B, 1)`` losses -> ``(B, 1)`` weights in (0, 1): Dense(100), ReLU, Dense(1), sigmoid."""

    hidden: int = HIDDEN

    @nn.compact
    def __call__(self, loss):
        h = jax.nn.relu(nn.Dense(self.hidden, name="hidden")(loss))
        return jax.nn.sigmoid(nn.Dense(1, name="out")(h))


def per_example_nll(logits, y):
    """``(B,)`` cross-entropy of each row of ``logits (B, K)`` against ``y (B,)``."""
    return -jnp.sum(jax.nn.log_softmax(logits) * jax.nn.one_hot(y, logits.shape[-1], dtype=logits.dtype), -1)


def mwnet_weights(theta, losses):
    """MW-Net weights of ``losses (B,)``, normalised to sum 1 over the batch (sigmoid > 0: the sum is > 0)."""
    v = MWNet().apply({"params": theta}, jax.lax.stop_gradient(losses)[:, None])[:, 0]
    return v / jnp.sum(v)


def mwnet_problem(model, learning_rate: float, x_val, y_val) -> meta.InnerProblem:
    """One SGD step (`learning_rate`) of `model` from ``context["params"]`` (masked by ``context["mask"]``) on the
    MW-Net-weighted loss of the batch ``context["x"] (B, D), ["y"] (B,)``; meta = the MW-Net params; the objective
    is the mean cross-entropy on the clean rows ``x_val (V, D), y_val (V,)`` at the look-ahead params."""
    def logits(params, mask, x):
        return model.apply({"params": apply_mask(params, mask)}, x)

    def weighted_loss(theta, params, batch):
        x, y, mask = batch
        losses = per_example_nll(logits(params, mask, x), y)
        return jnp.sum(mwnet_weights(theta, losses) * losses)

    def clean_loss(theta, params, key, context):
        return cross_entropy(logits(params, context["mask"], x_val), y_val)

    return meta.inner_problem(meta.classifier_task(model), optax.sgd(learning_rate),
                              lambda theta, t, key, c: (c["x"], c["y"], c["mask"]), num_steps=1,
                              loss=weighted_loss, init=lambda theta, key, c: c["params"], objective=clean_loss)


def make_mwnet(model, learning_rate: float, x_val, y_val, meta_learning_rate: float) -> StatefulWeigh:
    """A `sweeps.StatefulWeigh` whose state is ``(theta, adam_state)``: each call takes one Adam step
    (`meta_learning_rate`) on theta along the look-ahead meta-gradient, then weighs the batch with the new net."""
    est = meta.exact(mwnet_problem(model, learning_rate, x_val, y_val), checkpoint=False)
    opt = optax.adam(meta_learning_rate)

    def init(key):
        theta = init_params(MWNet(), key, input_length=1)
        return theta, opt.init(theta)

    def weigh(wstate, params, mask, batch, key):
        theta, opt_state = wstate
        x, y = batch
        context = {"params": params, "mask": mask, "x": x, "y": y}
        _, grad, _ = est.grad(theta, (), key, context)
        updates, opt_state = opt.update(grad, opt_state, theta)
        theta = optax.apply_updates(theta, updates)
        losses = per_example_nll(model.apply({"params": apply_mask(params, mask)}, x), y)
        return (theta, opt_state), mwnet_weights(theta, losses)

    return StatefulWeigh(init, weigh)


__all__ = ["HIDDEN", "VERSION", "MWNet", "make_mwnet", "mwnet_problem", "mwnet_weights", "per_example_nll"]
