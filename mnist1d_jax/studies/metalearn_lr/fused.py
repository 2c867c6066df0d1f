"""The study's default exact meta-gradient: one SGD step and its derivative with respect to η written out by hand
(`fused_step`), scanned over the unroll as a `meta.Estimator` (`fused_estimator`)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mnist1d_jax import meta as metalib


def fused_step(lr, carry, batch):
    """One SGD step and its derivative with respect to η, written out by hand (exact forward mode).

    θ ← θ − η∇L(θ) gives θ̇ ← θ̇ − ∇L(θ) − η·H(θ)θ̇ for θ̇ = dθ/dη; the Hessian-vector product H θ̇ is the
    tangent of the hand-written backward pass below. The loss is taken before the update.

    Layout, chosen for speed on CPU (every product is one matrix product, and under `jax.vmap` over runs
    the first layer's products fold the run axis into one larger product with no transposes):
    activations are ``[features, batch]``; each parameter is stacked with its tangent.

    Args:
      carry: ``(p1 [2H, 40], q1 [2H], w2 [10, H], t2 [10, H], b2 [10], tb2 [10])``: ``p1 = [w1ᵀ; ẇ1ᵀ]``,
        ``q1 = [b1; ḃ1]``, ``w2``/``t2`` the second layer's transposed weight and its tangent, ``b2``/``tb2``
        its bias and tangent.
      batch: ``(x [B, 40], xᵀ [40, B], onehotᵀ [10, B])``.
    Returns:
      the new carry and ``(loss, dloss/dη)``.
    """
    p1, q1, w2, t2, b2, tb2 = carry
    x, xt, onehot = batch
    n, hidden = x.shape[0], w2.shape[1]
    z = p1 @ xt + q1[:, None]  # [2H, B]: pre-activation and its tangent in one product
    a = jnp.tanh(z[:hidden])
    s = 1.0 - a * a  # tanh'
    a_dot = s * z[hidden:]
    # stacked = [[a, 0], [ȧ, a]] [2H, 2B]: [t2 | w2] @ stacked = [t2 a + w2 ȧ, w2 a] (ż2 and z2), and
    # [d2 | ḋ2] · stackedᵀ = [d2 aᵀ, d2 ȧᵀ + ḋ2 aᵀ] (∇w2 and its tangent)
    stacked = jnp.concatenate([jnp.concatenate([a, jnp.zeros_like(a)], 1), jnp.concatenate([a_dot, a], 1)], 0)
    zz = jnp.concatenate([t2, w2], 1) @ stacked  # [10, 2B]
    z2_dot = zz[:, :n] + tb2[:, None]
    logp = jax.nn.log_softmax(zz[:, n:] + b2[:, None], axis=0)
    p = jnp.exp(logp)
    loss = -jnp.sum(onehot * logp) / n
    d2 = (p - onehot) / n  # dL/dlogits [10, B]
    loss_dot = jnp.sum(d2 * z2_dot)
    d2_dot = p * (z2_dot - jnp.sum(p * z2_dot, 0, keepdims=True)) / n
    dd = jnp.concatenate([d2, d2_dot], 1)  # [10, 2B]
    g2 = jax.lax.dot_general(dd, stacked, (((1,), (1,)), ((), ())))  # [10, 2H] = [∇w2, its tangent]
    # [w2; t2]ᵀ @ [[d2, ḋ2], [0, d2]] = [w2ᵀd2, w2ᵀḋ2 + t2ᵀd2]: dL/da and its tangent [H, 2B]
    lower = jnp.concatenate([jnp.zeros_like(d2), d2], 1)
    back = jax.lax.dot_general(jnp.concatenate([w2, t2], 0), jnp.concatenate([dd, lower], 0),
                               (((0,), (0,)), ((), ())))
    da, da_dot = back[:, :n], back[:, n:]
    dz = jnp.concatenate([da * s, da_dot * s - 2.0 * da * a * a_dot], 0)  # dL/dz1 and its tangent [2H, B]
    g1 = dz @ x  # [2H, 40] = [∇w1ᵀ, its tangent]
    gb1 = dz.sum(1)
    gb2, gb2_dot = d2.sum(1), d2_dot.sum(1)
    gw2, gw2_dot = g2[:, :hidden], g2[:, hidden:]
    # θ ← θ − η g ;  θ̇ ← θ̇ − g − η ġ   (the first layer's halves are [θ; θ̇], its gradients [g; ġ])
    p1 = jnp.concatenate([p1[:hidden] - lr * g1[:hidden], p1[hidden:] - g1[:hidden] - lr * g1[hidden:]], 0)
    q1 = jnp.concatenate([q1[:hidden] - lr * gb1[:hidden], q1[hidden:] - gb1[:hidden] - lr * gb1[hidden:]], 0)
    carry = (p1, q1, w2 - lr * gw2, t2 - gw2 - lr * gw2_dot, b2 - lr * gb2, tb2 - gb2 - lr * gb2_dot)
    return carry, (loss, loss_dot)


def fused_estimator(batches) -> metalib.Estimator:
    """The exact meta-gradient of `inner_problem` by `fused_step` as a `meta.Estimator` (``mode="fused"``; the
    key is unused: the init and batches are fixed): value the mean inner loss, ``aux["losses"]`` [T] (tested
    equal to `meta.forward` of the generic unroll, ``mode="forward"``)."""
    x, y = batches
    xt = jnp.swapaxes(x, 1, 2)  # [T, 40, B]
    onehot = jnp.swapaxes(jax.nn.one_hot(y, 10, dtype=x.dtype), 1, 2)  # [T, 10, B]

    def vg(lr, key, params0):
        w1, b1 = params0["Dense_0"]["kernel"].T, params0["Dense_0"]["bias"]
        w2, b2 = params0["Dense_1"]["kernel"].T, params0["Dense_1"]["bias"]
        carry = (jnp.concatenate([w1, jnp.zeros_like(w1)]), jnp.concatenate([b1, jnp.zeros_like(b1)]),
                 w2, jnp.zeros_like(w2), b2, jnp.zeros_like(b2))
        _, (losses, dots) = jax.lax.scan(lambda c, b: fused_step(lr, c, b), carry, (x, xt, onehot))
        return (losses.mean(), {"losses": losses}), dots.mean()

    steps = int(x.shape[0])
    return metalib.from_value_and_grad(vg, metalib.Cost(steps, 0, steps, 1), "fused forward mode")
