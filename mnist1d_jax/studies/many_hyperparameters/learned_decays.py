"""Methods (c) implicit and (d) truncated: one training run per seed that alternates K inner Adam steps with one
hyper-step on the log decays, every seed at once (`learn_decays`), and the learned decays summarised per tensor
small enough for the record (`decay_spread`)."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax import meta
from mnist1d_jax.data.splits import Data
from mnist1d_jax.studies.many_hyperparameters.problem import full_decays, make_estimator

QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
HIST_EDGES = np.linspace(-10.0, 2.0, 97)  # log10 decay bins of 0.125 (values outside are clipped to the ends)


def learn_decays(config, ctx, method: str, data: Data, params0, keys) -> dict:
    """Method (c) or (d) on every seed at once (resumable from ``ctx.store``): the learned log decays
    (``final_meta``, and their `decay_spread` per tensor), the metrics after every hyper-step ``[S, H]`` and the
    seconds per hyper-step."""
    est = make_estimator(method, config, data)
    start = jax.vmap(lambda p: full_decays(p, config.initial_decay))(params0)
    tag = {"method": method, **{k: v for k, v in config.to_dict().items() if k not in ("methods", "decay_grid")}}
    name = f"hyper_{method}"
    resumed = ctx.store.get(name, tag) is not None  # then on_chunk first reports the restored step (no work)
    bar = ctx.bar(config.hyper_steps, f"many-hyperparameters {method}", "hyper-step")
    ends: list[tuple[float, int]] = []  # (seconds, hyper-steps done) at each on_chunk call
    t0 = time.perf_counter()

    def on_chunk(state, _):
        done = int(np.asarray(state.step)[0])
        bar.update(done - bar.n)
        ends.append((time.perf_counter() - t0, done))

    timing: dict = {}
    try:
        state, metrics = meta.run_outer(
            est, optax.adam(getattr(config, f"hyper_lr_{method}")), start, params0, config.hyper_steps, key=keys,
            vmap=True, chunk=config.chunk, record=lambda m: jnp.stack([jnp.mean(u) for u in jax.tree.leaves(m)]),
            checkpoint=meta.Checkpoint(ctx.store, name, tag), on_chunk=on_chunk, timing=timing,
            labels=[f"seed {s}" for s in range(config.seeds)])
    finally:
        bar.close()
    # the first chunk computed in this session pays the compile; later full chunks reuse the program
    pairs = list(zip(ends, ends[1:], strict=False))[1 if resumed else 0:]
    steady = [(tb - ta, sb - sa) for (ta, sa), (tb, sb) in pairs if sb - sa == config.chunk]
    per_step = sum(t for t, _ in steady) / sum(s for _, s in steady) if steady else None
    aux = metrics["aux"]
    curves = {k: np.asarray(v) for k, v in aux["metrics"].items()}
    curves["val_loss"] = np.asarray(aux["objective"])
    for name in ("stationarity", "solve_residual"):
        if name in aux:
            curves[name] = np.asarray(aux[name])
    return {"name": est.name, "cost": dict(est.cost._asdict()), "curves": curves,
            "layer_mean_log_decay": np.asarray(metrics["record"]), "grad_norm": np.asarray(metrics["grad_norm"]),
            "spread": decay_spread(state.meta), "final_meta": state.meta, "wall_s": timing["wall_s"],
            "s_per_hyper_step": per_step}


def decay_spread(log_decays) -> dict:
    """The learned decays of each tensor pooled over seeds (``log_decays``: shaped like params with a leading
    [S]), summarised small enough for the record: ``quantiles [tensors, 7]`` (`QUANTILES`) and ``hist [tensors,
    96]`` counts over `HIST_EDGES`, both of log10 λ, and ``mean`` / ``std`` ``[tensors]``."""
    per_tensor = [np.asarray(u, np.float64).ravel() / np.log(10.0) for u in jax.tree.leaves(log_decays)]
    return {"quantiles": np.stack([np.quantile(v, QUANTILES) for v in per_tensor]),
            "hist": np.stack([np.histogram(np.clip(v, HIST_EDGES[0], HIST_EDGES[-1]), HIST_EDGES)[0]
                              for v in per_tensor]),
            "mean": np.array([v.mean() for v in per_tensor]), "std": np.array([v.std() for v in per_tensor])}
