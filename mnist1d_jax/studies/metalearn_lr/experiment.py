"""The learning-rate study's computation, ``run(config, ctx) -> record``: the paper's trials and the sweep over
inits in one compiled, vmapped outer scan, the compiled memory of long unrolls, then the estimator comparison."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax import meta as metalib
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.studies.metalearn_lr.config import LRStudyConfig
from mnist1d_jax.studies.metalearn_lr.estimators import run_estimators
from mnist1d_jax.studies.metalearn_lr.fused import fused_estimator
from mnist1d_jax.studies.metalearn_lr.inner import inner_problem, inner_task, sequential_batches


def runs_of(config: LRStudyConfig) -> list[tuple[str, int, float]]:
    """(group, init seed, initial η) of every run: the trials first, then the sweep."""
    runs = [("trial", config.trial_init_seed, lr) for lr in config.initial_lrs]
    starts = config.sweep_initial_lrs or config.initial_lrs
    runs += [("sweep", s, starts[i % len(starts)]) for i, s in enumerate(config.sweep_init_seeds)]
    return runs


def run(config: LRStudyConfig, ctx) -> dict:
    """All runs in one compiled, vmapped outer scan (a progress bar per chunk of outer steps)."""
    # under a class subset the inner runs see only the kept digits
    data = prepare_data(get_dataset(DatasetConfig(num_samples=config.num_samples)), classes=ctx.classes)
    batches = sequential_batches(data.x, data.y, config.inner_steps, config.batch_size)
    runs = runs_of(config)
    bar = ctx.bar(config.outer_steps, f"metalearn-lr ({len(runs)} runs, one vmapped scan)", "outer step")
    t0, c0 = time.perf_counter(), time.process_time()
    task = inner_task(config.hidden)
    params0 = jax.jit(jax.vmap(lambda s: task.init(jax.random.key(s))))(jnp.array([r[1] for r in runs]))
    lr0 = jnp.array([r[2] for r in runs], jnp.float32)
    estimator = {"fused": lambda: fused_estimator(batches),
                 "forward": lambda: metalib.forward(inner_problem(task, batches)),
                 "reverse": lambda: metalib.exact(inner_problem(task, batches), checkpoint=config.checkpoint)}
    # the key is unused (fixed inits and batches: common random numbers), but every run gets its own
    keys = jax.random.split(jax.random.key(0), len(runs))
    state, metrics = metalib.run_outer(estimator[config.mode](), optax.sgd(config.outer_lr), lr0, params0,
                                       config.outer_steps, vmap=True, key=keys, chunk=config.chunk,
                                       on_chunk=lambda state, _: bar.update(int(np.asarray(state.step)[0]) - bar.n),
                                       labels=[f"{g} init {s} eta0 {lr}" for g, s, lr in runs])
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    bar.close()
    lrs = np.asarray(metrics["record"])  # [R, outer]: η after each update (as the original plots it)
    final = lrs[:, -1]
    sweep = np.array([g == "sweep" for g, _, _ in runs])
    record = {
        "runs": [{"group": g, "init_seed": s, "initial_lr": lr} for g, s, lr in runs],
        "curves": {"objective": metrics["value"], "final_inner_loss": metrics["aux"]["losses"][..., -1],
                   "learning_rate": lrs, "meta_gradient": metrics["grad_norm"]},
        "converged_lr": {
            "trials": {str(lr): float(final[i]) for i, (g, _, lr) in enumerate(runs) if g == "trial"},
            "sweep_mean": float(final[sweep].mean()) if sweep.any() else None,
            "sweep_std": float(final[sweep].std()) if sweep.any() else None,
            "sweep_min": float(final[sweep].min()) if sweep.any() else None,
            "sweep_max": float(final[sweep].max()) if sweep.any() else None,
        },
        "converged_objective": float(np.asarray(metrics["value"])[0, -1]),
        "runtime": {"wall_s_including_compile": wall, "cpu_s": cpu, "num_runs": len(runs),
                    "note": "one jit+vmap call for all runs"},
        "memory": memory_profile() if config.memory else None,
    }
    # after the paper-faithful part, which it leaves untouched (its own programs, keys and timers)
    record["estimators"] = run_estimators(config, ctx, task, batches)
    return record


def memory_profile(steps=(200, 2000), checkpoint=(False, True)) -> list[dict]:
    """Compiled temp memory of the meta-gradient (one run) for each unroll length, with/without checkpointing.

    Uses XLA's `memory_analysis()` of the compiled program, so nothing is run; synthetic batches suffice.
    """
    out = []
    for t in steps:
        batches = (jnp.zeros((t, 50, 40), jnp.float32), jnp.zeros((t, 50), jnp.int32))
        task = inner_task()
        params0 = task.init(jax.random.key(0))
        for ck in checkpoint:
            est = metalib.exact(inner_problem(task, batches), checkpoint=ck)
            f = jax.jit(lambda lr, p, est=est: est.grad(lr, (), jax.random.key(0), p)[1])
            mem = f.lower(jnp.float32(0.5), params0).compile().memory_analysis()
            out.append({"inner_steps": t, "checkpoint": ck, "temp_bytes": int(mem.temp_size_in_bytes),
                        "argument_bytes": int(mem.argument_size_in_bytes)})
    return out
