"""A batch of inner runs per outer step: any estimator averaged over ``n`` runs, the runs a vmapped axis.

Few-shot metalearning takes each outer step over a batch of tasks; a learned optimiser or a learned init over a
batch of fresh inits. `batched(estimator, n)` is that, for every estimator: the outer step's key is split into
``n`` keys, one inner run each (its task, init and batches drawn from its key, as the estimator alone would),
all ``n`` in one vmapped program; the value and the meta-gradient are the means over the runs (the estimate of
the expected meta-objective has 1/n of one run's variance). A stateful estimator (truncated, PES) keeps one
state per run, so each run continues its own unroll.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mnist1d_jax.meta.estimators import Cost, Estimator, check_positive_ints
from mnist1d_jax.meta.inner import ScaledGrad
from mnist1d_jax.meta.problem import as_key


def batched(estimator: Estimator, n: int) -> Estimator:
    """`estimator` averaged over `n` inner runs per call.

    ``grad(meta, est_state, key, context)``: run i uses key ``split(key, n)[i]`` and state ``est_state[i]``
    (``init`` makes the ``n`` states the same way); returns the mean value, ``aux`` stacked over runs (leading
    axis ``n``), the mean meta-gradient and the ``n`` new states. The context is shared by every run (a task
    bank, a dataset); what differs between runs comes from their keys. The cost is ``n`` times `estimator`'s.
    Refuses an overflow-safe estimator (averaging `ScaledGrad` mantissas of different exponents is not a mean).
    """
    if not isinstance(estimator, Estimator):
        raise ValueError(f"expected a meta.Estimator (e.g. meta.exact(problem)), not {type(estimator).__name__}")
    check_positive_ints(n=n)

    def init(meta, key, context):
        keys = jax.random.split(as_key(key), n)
        return jax.vmap(estimator.init, in_axes=(None, 0, None))(meta, keys, context)

    def grad(meta, est_state, key, context):
        keys = jax.random.split(as_key(key), n)
        (values, aux), grads, states = jax.vmap(estimator.grad, in_axes=(None, 0, 0, None))(
            meta, est_state, keys, context)
        if isinstance(grads, ScaledGrad):
            raise ValueError("batched: an overflow-safe estimator's ScaledGrad cannot be averaged; use the plain "
                             "estimator")
        return (jnp.mean(values), aux), jax.tree.map(lambda g: jnp.mean(g, axis=0), grads), states

    c = estimator.cost
    cost = Cost(n * c.forward, n * c.backward, n * c.tangent, n * c.states, n * c.hvp)
    return Estimator(init, grad, cost, f"{estimator.name} (batch of {n})")


__all__ = ["batched"]
