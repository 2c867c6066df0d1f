"""The learned-schedule study's computation, ``run(config, ctx) -> record``: PES meta-training of one schedule
per meta seed (one vmapped, resumable outer loop), then every schedule, learned or baseline, trained on fresh
evaluation seeds in one vmapped program."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax import meta as metalib
from mnist1d_jax.studies.lr_schedule.config import SEED_OFFSET, ScheduleStudyConfig
from mnist1d_jax.studies.lr_schedule.inner import load_data, make_context, make_problem, train_with_rates
from mnist1d_jax.studies.lr_schedule.schedules import baseline_rates, knot_steps, schedule_rates


def run(config: ScheduleStudyConfig, ctx) -> dict:
    """Meta-train one schedule per meta seed (one vmapped `run_outer`, resumable), then evaluate every schedule
    on the evaluation seeds in one program."""
    t0 = time.perf_counter()
    data = load_data(config, ctx.classes)
    n_train = int(data.x.shape[0])
    problem = make_problem(config, data)
    estimator = metalib.pes(problem, config.window, config.sigma, config.pairs)
    seeds = jnp.asarray(config.meta_seeds)
    contexts = jax.jit(jax.vmap(lambda s: make_context(s, config, n_train)))(seeds)
    theta0 = jnp.full((len(config.meta_seeds), config.knots), np.log(config.initial_lr), jnp.float32)
    keys = jax.vmap(lambda s: jax.random.key(s + 7))(seeds)
    tag = {k: v for k, v in config.to_dict().items() if k not in ("eval_seeds", "grid")}
    saved = ctx.store.get("meta_training", tag)
    if saved is None:
        saved = _meta_train(config, ctx, tag, estimator, theta0, contexts, keys)
        ctx.store.put("meta_training", tag, saved)
    meta_s = float(saved["seconds"])
    # every schedule x every evaluation seed in one vmapped program
    candidates = baseline_rates(config)
    for i, s in enumerate(config.meta_seeds):
        candidates[f"learned (meta seed {s})"] = schedule_rates(jnp.asarray(saved["log_lr"][i]), config)
    names = list(candidates)
    eval_contexts = jax.jit(jax.vmap(lambda s: make_context(s, config, n_train)))(
        jnp.arange(config.eval_seeds) + SEED_OFFSET)
    t1 = time.perf_counter()
    evaluate = jax.jit(jax.vmap(jax.vmap(lambda r, c: train_with_rates(r, c, config, data), in_axes=(None, 0)),
                                in_axes=(0, None)))
    scores = jax.tree.map(np.asarray, evaluate(jnp.stack([candidates[n] for n in names]), eval_contexts))
    results = {n: {"val_acc": scores["val_acc"][i], "test_acc": scores["test_acc"][i]} for i, n in enumerate(names)}
    best = {kind: max((n for n in names if n.startswith(kind)), key=lambda n: results[n]["val_acc"].mean())
            for kind in ("constant", "cosine")}
    learned = [n for n in names if n.startswith("learned")]
    return {
        "meta_seeds": list(config.meta_seeds),
        "eval_seeds": [SEED_OFFSET + i for i in range(config.eval_seeds)],
        "knot_steps": np.asarray(knot_steps(config)),
        "learned_log_lr": saved["log_lr"],  # [meta seeds, knots]
        "log_lr_history": saved["history"],  # [meta seeds, outer steps, knots] after each update
        "objective": saved["objective"],  # [meta seeds, outer steps] PES's estimate before each update
        "rates": {n: np.asarray(candidates[n]) for n in [best["constant"], best["cosine"], *learned]},
        "evaluation": results,  # {schedule: {val_acc, test_acc [eval seeds]}}
        "best_constant": best["constant"], "best_cosine": best["cosine"], "learned": learned,
        "cost_per_outer_step": dict(estimator.cost._asdict()),
        "runtime": {"meta_training_s": meta_s, "evaluation_s": time.perf_counter() - t1,
                    "total_s": time.perf_counter() - t0},
    }


def _meta_train(config, ctx, tag, estimator, theta0, contexts, keys) -> dict:
    """The vmapped outer loop, kept in ``ctx.store`` after every chunk by `meta.run_outer` (an interrupted run
    resumes at its last chunk). Returns ``{"log_lr", "objective", "history", "seconds"}``."""
    bar = ctx.bar(config.outer_steps, f"lr-schedule PES ({len(config.meta_seeds)} seeds vmapped)", "outer step")
    timing: dict = {}
    try:
        state, metrics = metalib.run_outer(
            estimator, optax.adam(config.outer_lr), theta0, contexts, config.outer_steps, key=keys,
            chunk=config.chunk, vmap=True, checkpoint=metalib.Checkpoint(ctx.store, "meta_training_partial", tag),
            on_chunk=lambda st, _: bar.update(int(np.asarray(st.step)[0]) - bar.n),
            labels=[f"meta seed {s}" for s in config.meta_seeds], timing=timing)
    finally:
        bar.close()
    return {"log_lr": np.asarray(state.meta), "objective": np.asarray(metrics["value"]),
            "history": np.asarray(metrics["record"]), "seconds": timing["wall_s"]}
