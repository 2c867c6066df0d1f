"""The learned-activation study's outer loop: the fixed inner tasks of every seed, the meta-gradient estimator and
outer optimiser of each run (the truncated headline, the exact paper-faithful one), and `learn`, the resumable,
vmapped outer loop itself; `time_outer_steps` times it for the benchmarks."""

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
from mnist1d_jax.runtime.backend import reduction_heavy_options
from mnist1d_jax.studies.metalearn_activation.activations import init_g, learned_activation
from mnist1d_jax.studies.metalearn_activation.config import ESTIMATORS, ActivationStudyConfig
from mnist1d_jax.studies.metalearn_activation.inner import inner_problem, make_task


def make_tasks(config: ActivationStudyConfig, classes=None):
    """Per seed: the fixed inner task (batches, init, noise keys) and g's initial parameters, stacked [S, ...]."""
    # under a class subset `classes` the inner tasks see only the kept digits
    data = prepare_data(get_dataset(DatasetConfig(num_samples=config.num_samples)), classes=classes)
    cfg = config.inner()
    keys = jnp.stack([jax.random.key(s) for s in config.seeds])

    def one(key):
        k_task, k_g = jax.random.split(key)
        return make_task(k_task, data.x, data.y, data.x_test, data.y_test, cfg), init_g(k_g, cfg.g_hidden)

    return jax.vmap(one)(keys)


def function_grid(config) -> jax.Array:
    """``[grid_points]`` float32: the points of [-5, 5] the learned f is recorded on."""
    return jnp.linspace(-5.0, 5.0, config.grid_points, dtype=jnp.float32)


def learned_f_on_grid(config):
    """``gp -> f [grid_points]``: the noise-free learned f on [-5, 5] (recorded and plotted)."""
    grid, g_scale = function_grid(config), config.inner().g_scale
    return lambda gp: learned_activation(gp, grid, None, g_scale=g_scale)


def estimator_of(config: ActivationStudyConfig, estimator: str | None = None) -> metalib.Estimator:
    """The `meta.Estimator` called `estimator` (default ``config.estimator``) of the study's inner problem
    (`inner.inner_problem`): the exact unroll, overflow-free (``meta.exact(..., overflow_safe=True)``), or
    truncated backprop through windows of ``config.window`` steps."""
    estimator = config.estimator if estimator is None else estimator
    problem = inner_problem(config.inner())
    if estimator == "exact":
        return metalib.exact(problem, overflow_safe=True)
    if estimator == "truncated":
        return metalib.truncated(problem, config.window)
    raise ValueError(f"estimator {estimator!r} is not one of {', '.join(ESTIMATORS)}")


def estimator_label(config: ActivationStudyConfig, estimator: str) -> str:
    """How the report and figures name an estimator, e.g. ``truncated backprop (K=100)``."""
    return "exact unroll" if estimator == "exact" else f"truncated backprop (K={config.window})"


def outer_optimizer(config: ActivationStudyConfig, estimator: str | None = None) -> optax.GradientTransformation:
    """Plain SGD on the clipped meta-gradient, with `estimator`'s step size (``outer_lr`` for the exact run,
    ``truncated_outer_lr`` for the truncated one)."""
    estimator = config.estimator if estimator is None else estimator
    return optax.sgd(config.outer_lr if estimator == "exact" else config.truncated_outer_lr)


_NOT_LEARNING = ("transfer", "transfer_seeds", "transfer_steps", "paper_faithful", "estimator")


def _learning_fields(config, estimator: str) -> dict:
    """The config fields that determine `estimator`'s outer loop: a saved outer state is reused only if these
    all match (``window`` matters to the truncated run only)."""
    fields = {k: v for k, v in config.to_dict().items() if k not in _NOT_LEARNING}
    for name in ("window", "truncated_outer_lr") if estimator == "exact" else ("outer_lr",):
        fields.pop(name)
    return {**fields, "estimator": estimator}


def _keys(config):
    """One key per seed (unused by the inner problem, whose randomness is fixed in its task)."""
    return jnp.stack([jax.random.key(s) for s in config.seeds])


def learn(config: ActivationStudyConfig, ctx, *, estimator: str | None = None):
    """The outer loop of `estimator` (default ``config.estimator``) for every seed at once, resumable: `meta.
    run_outer` keeps its state, metrics and timing in ``ctx.store`` after every chunk. Returns ``{"state",
    "metrics" [S, outer_steps, ...], "tasks", "timing", "stopped"}``: with a non-finite meta-gradient the run
    stops and everything up to the last clean chunk is kept (``stopped`` the message, else None)."""
    estimator = config.estimator if estimator is None else estimator
    tasks, g0 = make_tasks(config, ctx.classes)
    key = "outer_loop" if estimator == config.estimator else f"outer_loop_{estimator}"
    bar = ctx.bar(config.outer_steps, f"metalearn-activation, {estimator_label(config, estimator)} "
                  f"({len(config.seeds)} seeds vmapped)", "outer step")
    timing: dict = {}
    stopped = None
    try:
        state, metrics = metalib.run_outer(
            estimator_of(config, estimator), outer_optimizer(config, estimator), g0, tasks, config.outer_steps,
            key=_keys(config), chunk=config.chunk, clip=config.clip, record=learned_f_on_grid(config), vmap=True,
            checkpoint=metalib.Checkpoint(ctx.store, key, _learning_fields(config, estimator)),
            on_chunk=lambda st, _: bar.update(int(np.asarray(st.step)[0]) - bar.n),
            labels=[f"seed {s}" for s in config.seeds], compiler_options=reduction_heavy_options(), timing=timing)
    except metalib.NonFiniteMetaGradient as err:
        # The run stops at the first non-finite meta-gradient; we still report (clearly labelled) everything up
        # to the last completed chunk instead of losing the whole run.
        if err.state is None:
            raise RuntimeError("the outer loop stopped before its first chunk finished: nothing to report") from err
        stopped, state, metrics = str(err), err.state, err.metrics
    finally:
        bar.close()
    return {"state": state, "metrics": metrics, "tasks": tasks, "timing": timing, "stopped": stopped}


def time_outer_steps(config: ActivationStudyConfig, steps: int, estimator: str | None = None) -> float:
    """Wall seconds per outer step of `config`'s outer loop with `estimator` (default ``config.estimator``;
    all its seeds at once), compile excluded.

    Compiles a `steps`-step outer scan, runs it once to warm up, then times a second run. For benchmarks
    (``scripts/speed.py --only meta``); `learn` is what runs the study.
    """
    tasks, g0 = make_tasks(config)
    optimizer, est = outer_optimizer(config, estimator), estimator_of(config, estimator)
    scan = jax.jit(jax.vmap(metalib.make_outer_scan(est, optimizer, steps, clip=config.clip)),
                   compiler_options=reduction_heavy_options())
    state = jax.vmap(lambda m, k, c: metalib.outer_init(est, optimizer, m, k, c))(g0, _keys(config), tasks)
    jax.block_until_ready(scan(state, tasks))
    start = time.perf_counter()
    jax.block_until_ready(scan(state, tasks))
    return (time.perf_counter() - start) / steps
