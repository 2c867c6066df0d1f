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
from mnist1d_jax.runtime.precision import use_precision

GRID_METRICS = ("best_val_acc", "selected_test_acc", "final_test_acc", "final_train_acc")


@functools.partial(jax.jit, static_argnames=("config",))
def _grid(keys, data: Data, config: TrainConfig, lrs, wds):
    def one(key, lr, wd):
        _, metrics, summary = train(key, data, config, {"learning_rate": lr, "weight_decay": wd})
        return {"best_val_acc": metrics["val_acc"].max(), "selected_test_acc": summary["selected_test_acc"],
                "final_test_acc": metrics["test_acc"][-1], "final_train_acc": metrics["train_acc"][-1]}

    return jax.vmap(one)(keys, lrs, wds)


def grid_runs(keys, data: Data, config: TrainConfig, learning_rates, weight_decays) -> dict[str, jax.Array]:
    """Every (learning rate, weight decay) pair x seed as one program: ``{metric: (G, S)}`` in %, for ``G``
    pairs (``learning_rates[i], weight_decays[i]``) and keys ``(S,)``; the metrics are `GRID_METRICS`: the best
    validation accuracy over the evaluations, the test accuracy at that (first best) checkpoint, and the test
    and training accuracy after the last update."""
    if data.x_val is None:
        raise ValueError("a grid search selects on validation: pass prepare_data(..., val_fraction=0.1)")
    lrs, wds = jnp.asarray(learning_rates, jnp.float32), jnp.asarray(weight_decays, jnp.float32)
    if lrs.shape != wds.shape or lrs.ndim != 1:
        raise ValueError(f"learning_rates and weight_decays must be two (G,) sequences, got shapes {lrs.shape} "
                         f"and {wds.shape}")
    g, s = lrs.shape[0], keys.shape[0]
    flat = (jnp.tile(keys, g), jnp.repeat(lrs, s), jnp.repeat(wds, s))
    spread, n = spread_leading(flat)
    with use_precision(config.precision):  # around the call: the jit's cache key and lowering see it
        out = take_leading(_grid(spread[0], replicate(data), config, spread[1], spread[2]), n)
    return {k: jnp.asarray(v).reshape(g, s) for k, v in out.items()}


def best_validation_accuracy(keys, data: Data, config: TrainConfig, learning_rates, weight_decays):
    """Best validation accuracy (%) over the evaluations of every (learning rate, weight decay) pair x seed:
    ``(G, S)`` for ``G`` pairs (``learning_rates[i], weight_decays[i]``) and keys ``(S,)``."""
    return grid_runs(keys, data, config, learning_rates, weight_decays)["best_val_acc"]


__all__ = ["GRID_METRICS", "best_validation_accuracy", "grid_runs"]
