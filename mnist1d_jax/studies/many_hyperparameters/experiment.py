"""The many-hyperparameters study's computation, ``run(config, ctx) -> record``: baselines (a) and (b) in one
program, then each learned-decay method, then the learned decays retrained with the decays held fixed."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax import meta
from mnist1d_jax.nn.init import count_params
from mnist1d_jax.studies.many_hyperparameters.config import ManyHyperparametersConfig
from mnist1d_jax.studies.many_hyperparameters.fixed_decays import fixed_run, train_grid
from mnist1d_jax.studies.many_hyperparameters.learned_decays import HIST_EDGES, QUANTILES, learn_decays
from mnist1d_jax.studies.many_hyperparameters.problem import MODEL, full_decays, load_data


def seed_keys(config) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(init, fixed-decay runs, hyper runs)`` keys ``[S]`` each: the init is shared by every method."""
    base = jnp.stack([jax.random.key(s) for s in range(config.seeds)])
    return tuple(jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(base) for i in range(3))


def run(config: ManyHyperparametersConfig, ctx) -> dict:
    """Baselines (a) and (b) in one program, then each learned-decay method, then the fixed-decay retraining."""
    t0 = time.perf_counter()
    data = load_data(config, ctx.classes)
    init_keys, fixed_keys, hyper_keys = seed_keys(config)
    params0 = jax.jit(jax.vmap(meta.classifier_task(MODEL).init))(init_keys)
    template = jax.tree.map(lambda p: p[0], params0)
    n_params = count_params(template)
    decays = (0.0, *config.decay_grid)
    tag = {k: v for k, v in config.to_dict().items() if k not in ("methods", "chunk")}
    fixed = ctx.store.get("fixed_decays", tag)
    if fixed is None:
        grid = jax.vmap(lambda v: full_decays(template, v))(jnp.asarray(decays, jnp.float32))
        fixed = train_grid(config, data, grid, params0, fixed_keys)
        ctx.store.put("fixed_decays", tag, fixed)
    best = 1 + int(np.argmax(np.asarray(fixed["val_acc"])[1:].mean(-1)))  # grid rows, by mean validation accuracy
    ctx.log(f"best single decay {decays[best]:g} (validation {np.mean(fixed['val_acc'][best]):.1f} %)")
    learned = {}
    for method in config.methods:
        result = learn_decays(config, ctx, method, data, params0, hyper_keys)
        final_meta = result.pop("final_meta")
        # the learned decays held fixed in a fresh run from the same inits (do they transfer without the schedule?)
        retrained = jax.jit(jax.vmap(fixed_run(config, data)))(final_meta, params0, fixed_keys)
        result["retrained"] = {k: np.asarray(v) for k, v in retrained.items()}
        learned[method] = result
        ctx.log(f"{method}: test {np.mean(result['curves']['test_acc'][:, -1]):.1f} %, "
                f"{result['s_per_hyper_step']} s per hyper-step")
    layers = [{"name": jax.tree_util.keystr(path), "size": int(leaf.size)}
              for path, leaf in jax.tree_util.tree_leaves_with_path(template)]
    return {"n_hyperparameters": n_params, "layers": layers, "decays": list(decays),
            "fixed": {k: np.asarray(v) for k, v in fixed.items()}, "best_decay_index": best, "learned": learned,
            "sizes": {"train": int(data.x.shape[0]), "val": int(data.x_val.shape[0]),
                      "test": int(data.x_test.shape[0])},
            "quantiles": list(QUANTILES), "hist_edges": HIST_EDGES, "runtime": {"total_s": time.perf_counter() - t0}}
