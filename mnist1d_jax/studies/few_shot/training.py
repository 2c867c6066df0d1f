"""One few-shot method trained: meta-training (or pre-training) with the current parameters scored on the
validation tasks every ``eval_every`` outer steps, the best kept; resumable from the study's store."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax import meta
from mnist1d_jax.studies.few_shot.tasks import Tasks, estimator_and_start


def train(config, ctx, method: str, tag: dict, tasks: Tasks, val_scores) -> dict:
    """Meta-train (or pre-train) `method`, scoring the parameters on validation every ``eval_every`` steps
    (``val_scores(params) -> {name: accuracy}``); returns the best parameters per name, the history and the
    timing. Resumable: `run_outer`'s checkpoint and the history live in ``ctx.store``."""
    name = f"{method}_{tag['k']}" if method != "pretrain" else method
    steps = config.pretrain_steps if method == "pretrain" else config.outer_steps
    est, start = estimator_and_start(config, method, tasks, jax.random.key(config.meta_seed))
    hist = ctx.store.get(f"{name}_val", tag) or {"step": [], "val": [], "best": {}}

    def on_chunk(state, _):
        step = int(state.step)
        if step not in hist["step"]:  # (a resumed run first shows the restored state: scored already)
            scores = val_scores(state.meta)
            hist["step"].append(step)
            hist["val"].append(scores)
            for key, acc in scores.items():
                if key not in hist["best"] or acc > hist["best"][key]["val"]:
                    hist["best"][key] = {"val": acc, "step": step, "params": jax.tree.leaves(jax.device_get(
                        state.meta))}
            ctx.store.put(f"{name}_val", tag, hist)
        bar.update(step - bar.n)

    bar = ctx.bar(steps, f"few-shot {name}", "outer step")
    timing: dict = {}
    try:
        # record=(): the parameters are not stacked over steps (the pre-trained net's head is 126,000 numbers)
        _, metrics = meta.run_outer(est, optax.adam(config.outer_lr), start, tasks.contexts["train"], steps,
                                    key=jax.random.key(config.meta_seed + 1), chunk=config.eval_every,
                                    record=lambda m: (), timing=timing,
                                    checkpoint=meta.Checkpoint(ctx.store, name, tag), on_chunk=on_chunk)
    finally:
        bar.close()
    treedef = jax.tree.structure(start)
    best = {key: {**b, "params": jax.tree.unflatten(treedef, [jnp.asarray(a) for a in b["params"]])}
            for key, b in hist["best"].items()}
    return {"best": best, "val_steps": hist["step"], "val": hist["val"], "train_loss": np.asarray(metrics["value"]),
            "seconds": timing["wall_s"], "s_per_step": timing["wall_s"] / steps}
