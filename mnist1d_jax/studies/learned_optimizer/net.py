"""The learned optimiser of ``studies.learned_optimizer``: a tiny MLP shared by every parameter, as an optax
transformation whose weights are the meta-parameters.

Per parameter θ with gradient g at inner step t (of T), the optimiser keeps momenta m_β (β = 0.5, 0.9, 0.99)
and a second moment v (β₂ = 0.999), bias-corrected as Adam's, and feeds the MLP six features:
``g/√v, m_0.5/√v, m_0.9/√v, m_0.99/√v, θ, t/T`` (``√v`` with ε = 1e-8). The MLP (6 → ``hidden`` tanh → 2) gives
a direction d and a log-magnitude s, and the update is

    Δθ = −η · (m_0.9/√v + d) · exp(s),      η = exp(meta["log_lr"]),

so with its output layer at zero (the initial meta-parameters) it *is* Adam (β₁ = 0.9) at rate η, and what
meta-training learns is a correction to Adam: a direction from the features and a per-parameter, per-step scale
(a learned schedule, if it finds one useful). Size at hidden = 16: 6·16 + 16 + 16·2 + 2 + 1 = 147 numbers.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

BETAS = (0.5, 0.9, 0.99)
BETA2, EPS = 0.999, 1e-8
FEATURES = ("g/√v", "m0.5/√v", "m0.9/√v", "m0.99/√v", "θ", "t/T")


def init_meta(key, hidden: int = 16, learning_rate: float = 1e-3) -> dict:
    """The meta-parameters: the MLP's weights (input layer PyTorch-default uniform, output layer zero) and
    ``log_lr``. At these values the optimiser is Adam at `learning_rate`."""
    bound = 1.0 / jnp.sqrt(len(FEATURES))
    k1, k2 = jax.random.split(key)
    return {"w1": jax.random.uniform(k1, (len(FEATURES), hidden), jnp.float32, -bound, bound),
            "b1": jax.random.uniform(k2, (hidden,), jnp.float32, -bound, bound),
            "w2": jnp.zeros((hidden, 2), jnp.float32), "b2": jnp.zeros((2,), jnp.float32),
            "log_lr": jnp.log(jnp.float32(learning_rate))}


class LearnedState(NamedTuple):
    count: jax.Array
    momenta: tuple
    v: Any


def features(g, theta, momenta, v, count, total_steps: int) -> jax.Array:
    """``[..., 6]`` features of every scalar parameter (bias-corrected moments, normalised by √v)."""
    corr2 = 1.0 - BETA2**count
    r = jax.lax.rsqrt(v / corr2 + EPS**2)
    ms = [m / (1.0 - b**count) * r for m, b in zip(momenta, BETAS, strict=True)]
    frac = jnp.broadcast_to(count / total_steps, g.shape).astype(g.dtype)
    return jnp.stack([g * r, *ms, theta, frac], axis=-1)


def mlp(meta: dict, f: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(direction, log-magnitude)`` of the MLP for features ``f [..., 6]``."""
    out = jnp.tanh(f @ meta["w1"] + meta["b1"]) @ meta["w2"] + meta["b2"]
    return out[..., 0], out[..., 1]


def learned_optimizer(meta: dict, total_steps: int) -> optax.GradientTransformation:
    """The learned optimiser with meta-parameters `meta` for a run of `total_steps` steps (for t/T)."""
    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return LearnedState(jnp.zeros((), jnp.int32), tuple(zeros for _ in BETAS), zeros)

    def update(grads, state, params):
        count = state.count + 1
        momenta = tuple(jax.tree.map(lambda m, g, b=b: b * m + (1 - b) * g, mo, grads)
                        for mo, b in zip(state.momenta, BETAS, strict=True))
        v = jax.tree.map(lambda v, g: BETA2 * v + (1 - BETA2) * g * g, state.v, grads)
        c = count.astype(jnp.float32)

        def one(g, theta, v_, *ms):
            f = features(g, theta, ms, v_, c, total_steps)
            d, s = mlp(meta, f)
            return -jnp.exp(meta["log_lr"]) * (f[..., 2] + d) * jnp.exp(s)

        updates = jax.tree.map(one, grads, params, v, *momenta)
        return updates, LearnedState(count, momenta, v)

    return optax.GradientTransformation(init, update)


def update_curve(meta: dict, grads: jax.Array, *, momentum: float = 0.0, theta: float = 0.0, frac: float = 0.5,
                 v: float = 1.0) -> jax.Array:
    """The learned update (in units of η) as a function of the normalised gradient ``g/√v`` (``grads [n]``),
    other features fixed (momenta ``momentum`` each, θ, t/T = ``frac``): what the optimiser learned, for the
    figure. Adam's is ``−m_0.9/√v``."""
    f = jnp.stack([grads, *(jnp.full_like(grads, momentum),) * 3, jnp.full_like(grads, theta),
                   jnp.full_like(grads, frac)], axis=-1)
    d, s = mlp(meta, f)
    return -(f[..., 2] + d) * jnp.exp(s)


__all__ = ["BETAS", "FEATURES", "LearnedState", "features", "init_meta", "learned_optimizer", "mlp", "update_curve"]
