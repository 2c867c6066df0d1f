"""Beyond the paper: the two trials again with each meta-gradient estimator of `meta.estimators` (exact, forward,
truncated, ES, PES) on the same inner problem, outer optimiser and steps, so that the learned rates, costs and
seconds compare directly."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax import meta as metalib
from mnist1d_jax.studies.metalearn_lr.config import ESTIMATORS, LRStudyConfig
from mnist1d_jax.studies.metalearn_lr.inner import inner_problem


def make_estimator(name: str, problem: metalib.InnerProblem, config: LRStudyConfig) -> metalib.Estimator:
    """The `meta.estimators` estimator called `name` in the config (one of `ESTIMATORS`) with its settings.

    PES runs all T/K windows per call (``online=False``), so one outer step is one whole inner run for every
    estimator and the outer curves line up step for step."""
    if name not in ESTIMATORS:
        raise ValueError(f"estimator {name!r} is not one of {', '.join(ESTIMATORS)}")
    window, sigma = config.truncation_window, config.es_sigma
    return {"exact": lambda: metalib.exact(problem), "forward": lambda: metalib.forward(problem),
            "truncated": lambda: metalib.truncated(problem, window),
            "es": lambda: metalib.antithetic_es(problem, sigma, config.es_pairs),
            "pes": lambda: metalib.pes(problem, window, sigma, config.pes_pairs)}[name]()


# what decides an estimator's result: its cache tag (the paper-faithful part's sweep and modes do not)
_ESTIMATOR_FIELDS = ("hidden", "inner_steps", "batch_size", "outer_steps", "outer_lr", "initial_lrs",
                     "trial_init_seed", "num_samples", "chunk", "truncation_window", "es_sigma", "es_pairs",
                     "pes_pairs", "estimator_seed")


def run_estimators(config: LRStudyConfig, ctx, task: metalib.Task, batches) -> dict:
    """The trials (every η₀ of ``initial_lrs`` from init key ``trial_init_seed``) with each estimator of
    ``config.estimators``: one vmapped `run_outer` per estimator over the trials, each finished estimator kept
    in ``ctx.store``.

    Returns ``{name: {"name", "cost" (the `Cost` per outer step, in inner steps), "learning_rate" [R, outer]
    (η after each update), "objective" [R, outer] (the estimator's value before each update), "final_lr" {η₀:
    η}, "wall_s_including_compile", "s_per_outer_step_excluding_compile" (None with a single chunk)}}``.
    """
    if not config.estimators:
        return {}
    problem = inner_problem(task, batches)
    n = len(config.initial_lrs)
    params0 = jax.jit(jax.vmap(lambda s: task.init(jax.random.key(s))))(jnp.full((n,), config.trial_init_seed))
    lr0 = jnp.array(config.initial_lrs, jnp.float32)
    keys = jax.random.split(jax.random.key(config.estimator_seed), n)  # one per trial (ES/PES perturbations)
    bar = ctx.bar(len(config.estimators) * config.outer_steps, f"metalearn-lr estimators ({n} trials each)",
                  "outer step")
    out = {}
    for name in config.estimators:
        tag = {"estimator": name, **{f: getattr(config, f) for f in _ESTIMATOR_FIELDS}}
        result = ctx.store.get(f"estimator_{name}", tag)
        if result is None:
            result = _run_estimator(make_estimator(name, problem, config), config, lr0, params0, keys,
                                    lambda done: bar.update(done))
            ctx.store.put(f"estimator_{name}", tag, result)
        else:
            bar.update(config.outer_steps)
        out[name] = result
        ctx.log(f"{result['name']}: learned η " + " / ".join(f"{v:.3f}" for v in result["final_lr"].values()))
    bar.close()
    return out


def _run_estimator(est: metalib.Estimator, config: LRStudyConfig, lr0, params0, keys, advance) -> dict:
    """One estimator on the trials (see `run_estimators`); `advance(outer steps done in this chunk)`."""
    ends: list[tuple[float, int]] = []  # (seconds since the start, outer steps done) at the end of each chunk

    def on_chunk(state, _):
        done = int(np.asarray(state.step)[0])
        advance(done - (ends[-1][1] if ends else 0))
        ends.append((time.perf_counter() - t0, done))

    t0 = time.perf_counter()
    _, metrics = metalib.run_outer(est, optax.sgd(config.outer_lr), lr0, params0, config.outer_steps, vmap=True,
                                   key=keys, chunk=config.chunk, on_chunk=on_chunk,
                                   labels=[f"{est.name} eta0 {lr}" for lr in config.initial_lrs])
    wall = time.perf_counter() - t0
    # the first chunk pays the compile; later chunks of its length reuse the program (a shorter last one
    # compiles again, so it is left out)
    first = ends[0][1]
    steady = [(tb - ta, sb - sa) for (ta, sa), (tb, sb) in zip(ends, ends[1:], strict=False) if sb - sa == first]
    per_step = sum(t for t, _ in steady) / sum(s for _, s in steady) if steady else None
    lrs = np.asarray(metrics["record"])  # [R, outer]
    return {"name": est.name, "cost": dict(est.cost._asdict()), "learning_rate": lrs,
            "objective": np.asarray(metrics["value"]),
            "final_lr": {str(lr): float(lrs[i, -1]) for i, lr in enumerate(config.initial_lrs)},
            "wall_s_including_compile": wall, "s_per_outer_step_excluding_compile": per_step}
