"""A hyperparameter grid in one vmapped call: (learning rate, weight decay) pairs x seeds as one program.

The scalars are traced ``hparams`` of ``core.runs.train``, so every grid point and seed of one architecture
shares one compiled program, split over the devices.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from mnist1d_jax.core.parallel import replicate, spread_leading, take_leading
from mnist1d_jax.core.runs import TrainConfig, train
from mnist1d_jax.data.splits import Data
from mnist1d_jax.precision import use_precision


@functools.partial(jax.jit, static_argnames=("config",))
def _best_val(keys, data: Data, config: TrainConfig, lrs, wds):
    def one(key, lr, wd):
        _, metrics, _ = train(key, data, config, {"learning_rate": lr, "weight_decay": wd})
        return metrics["val_acc"].max()

    return jax.vmap(one)(keys, lrs, wds)


def best_validation_accuracy(keys, data: Data, config: TrainConfig, learning_rates, weight_decays):
    """Best validation accuracy (%) over the evaluations of every (learning rate, weight decay) pair x seed:
    ``(G, S)`` for ``G`` pairs (``learning_rates[i], weight_decays[i]``) and keys ``(S,)``."""
    if data.x_val is None:
        raise ValueError("a grid search selects on validation: pass prepare_data(..., val_fraction=0.1)")
    lrs, wds = jnp.asarray(learning_rates, jnp.float32), jnp.asarray(weight_decays, jnp.float32)
    g, s = lrs.shape[0], keys.shape[0]
    flat = (jnp.tile(keys, g), jnp.repeat(lrs, s), jnp.repeat(wds, s))
    spread, n = spread_leading(flat)
    with use_precision(config.precision):  # around the call: the jit's cache key and lowering see it
        return take_leading(_best_val(spread[0], replicate(data), config, spread[1], spread[2]), n).reshape(g, s)


__all__ = ["best_validation_accuracy"]
