"""Thousands of hyperparameters (beyond the paper): a weight decay for every parameter of the Table-1 MLP, learned
by implicit differentiation.

Protocol (after Lorraine, Vicol & Duvenaud 2020, written here from the paper). The Table-1 MLP (40→100→100→10,
residual, ReLU; 15,210 parameters) is trained with the Table-1 recipe (Adam, step 0.01, batch 100, 6,000 steps)
on the frozen training set less a validation split: 1,000 of the 4,000 training examples, chosen by
``prepare_data(val_fraction=0.25, val_seed=0)``, leave 3,000 to train on; the 1,000 test examples are used only
for the reported numbers. Batches are drawn from each step's key. Every parameter θ_i has its own coupled weight
decay λ_i (the training loss is cross-entropy + ½ Σ_i λ_i θ_i², as the Table-1 recipe's weight decay), learned
as u_i = log λ_i: 15,210 hyperparameters. Four methods, each on the same ``seeds`` = 5 inits (one vmapped
program per method):

* (a) no weight decay; (b) one weight decay for all parameters, the best of ``decay_grid`` by final validation
  accuracy (the grid is a vmapped axis, every value × every seed in one program);
* (c) implicit: one training run alternating ``inner_steps`` = K Adam steps with one hyper-step: the
  hypergradient of the validation cross-entropy (all 1,000 examples) at the current parameters by the implicit
  function theorem, ``−∂²L/∂u∂θ · H⁻¹ ∇_θ L_val``, with H⁻¹ by a Neumann series of ``neumann_iterations`` terms
  and step ``neumann_alpha`` on the Hessian of the training loss over ``hessian_batch`` training examples
  (``meta.implicit(..., solver="neumann", warm_start=True)``: the estimator carries the inner state, so the run
  is never restarted), then one Adam step (``hyper_lr_implicit``) on u; 6,000 / K hyper-steps in all;
* (d) truncated: the same alternation, the hypergradient by backprop through the last K inner steps only (the
  state at the start of the window a constant: ``meta.truncated(..., window=K, online=True)``), Adam step
  ``hyper_lr_truncated``.

u starts at log ``initial_decay`` everywhere. Reported: test accuracy (%) of the final parameters, mean ± std over
seeds; for (c) and (d) the training, validation and test accuracy after every hyper-step (with this many
hyperparameters and 1,000 validation examples the validation set itself can be fitted: the gap between the
validation and the test curves says whether it is); the learned decays per tensor; seconds per hyper-step (the
whole vmapped batch of seeds, compile excluded). Also, whether the learned decays transfer: a fresh training run
from the same inits with the final decays held fixed.

Settings chosen on validation only. In short tries (2 seeds, the whole 6,000 steps) the hypergradient saw 500 of
the 1,000 validation examples and the choice was made on the other 500 (their accuracy averaged over the last 5
hyper-steps), so neither the test set nor the examples being fitted chose anything. Implicit (K = 50, 20 terms,
Hessian on 1,000 training examples, hyper step 0.03): Neumann step 0.01 → 66.2 %, 0.1 → 67.7; hyper step 0.1 →
64.3; 5 terms → 67.0; K = 100 → 65.9, K = 20 → 65.3; the Hessian on all 3,000 → 68.1 (chosen); starting at 3e-4
→ 66.7. Truncated (K = 50): hyper step 0.03 → 66.4, 0.1 → 67.7 (chosen), 0.3 → 64.8; K = 100 → 67.2, K = 20 →
65.5; starting at 3e-4 → 66.7. The single decays on the same split: best 3e-4 at 67.1, no decay 63.7. Every
difference above is within about two points of seed noise; shorter K (more hyper-steps) fitted the 500 more and
did worse on the other 500. The largest Hessian eigenvalue, measured after 600 steps, was 6.1: the step 0.1 keeps
the series convergent along it (below 2 / 6.1).
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax import meta
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.splits import Data, prepare_data
from mnist1d_jax.nn.init import count_params
from mnist1d_jax.nn.models import MLP
from mnist1d_jax.runtime.validation import Config, choice, fail, fraction, integer, option, positive, tuple_of
from mnist1d_jax.studies.many_hyperparameters_draw import draw, report_rows

NAME = "many_hyperparameters"
TITLE = "Thousands of hyperparameters: a weight decay per parameter by implicit differentiation (beyond the paper)"
ORIGINAL_MINUTES = None
METHODS = ("implicit", "truncated")
MODEL = MLP()  # the Table-1 MLP: 15,210 parameters, so 15,210 hyperparameters


@dataclasses.dataclass(frozen=True)
class ManyHyperparametersConfig(Config):
    seeds: int = option(5, integer(1, 1000), "seeds (init and batch order), vmapped")
    total_steps: int = option(6000, integer(1, 10_000_000), "inner Adam steps of every method (Table 1: 6,000)")
    batch_size: int = option(100, integer(1, 100_000), "examples per inner step (Table 1: 100)")
    inner_lr: float = option(1e-2, positive(10.0), "inner Adam step (Table 1: 0.01)")
    val_fraction: float = option(0.25, fraction(lo_open=True), "share of the 4,000 training examples held out")
    inner_steps: int = option(50, integer(1, 1_000_000), "K: inner steps per hyper-step (divides total_steps)")
    neumann_iterations: int = option(20, integer(1, 10_000), "Neumann series terms of H⁻¹ (implicit)")
    neumann_alpha: float = option(0.1, positive(10.0), "Neumann step (below 2 / the largest eigenvalue of H)")
    hessian_batch: int = option(3000, integer(1, 100_000), "training examples in the Hessian's loss (implicit; "
                                "all of them: 3,000)")
    hyper_lr_implicit: float = option(0.03, positive(10.0), "Adam step on the log decays, (c) implicit")
    hyper_lr_truncated: float = option(0.1, positive(10.0), "Adam step on the log decays, (d) truncated")
    initial_decay: float = option(1e-4, positive(10.0), "every decay at the start of (c) and (d)")
    decay_grid: tuple[float, ...] = option((1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2),
                                           tuple_of(positive(10.0), unique=True, increasing=True),
                                           "single decays of baseline (b), chosen on validation")
    methods: tuple[str, ...] = option(METHODS, tuple_of(choice(*METHODS), unique=True), "learned-decay methods")
    chunk: int = option(20, integer(1), "hyper-steps per compiled chunk (progress and checkpoints)")

    def _check(self) -> None:
        if self.total_steps % self.inner_steps:
            fail(self, "inner_steps", self.inner_steps, f"must divide total_steps={self.total_steps}")
        n_train = 4000 - round(4000 * self.val_fraction)
        for name in ("batch_size", "hessian_batch"):
            if getattr(self, name) > n_train:
                fail(self, name, getattr(self, name), f"must be <= the {n_train} training examples")

    @property
    def hyper_steps(self) -> int:
        return self.total_steps // self.inner_steps


Config = ManyHyperparametersConfig
QUICK = ManyHyperparametersConfig(seeds=2, total_steps=12, inner_steps=4, neumann_iterations=3, hessian_batch=200,
                                  decay_grid=(1e-4, 1e-2), chunk=2)
PAPER_SEEDS: dict = {}


# ----------------------------------------------------------------------------------------------------------------
# the inner problem
def penalty(log_decay, params) -> jax.Array:
    """``½ Σ_i exp(u_i) θ_i²``: the coupled weight decay of every parameter (``log_decay`` shaped like params)."""
    terms = [jnp.sum(jnp.exp(u) * jnp.square(p))
             for u, p in zip(jax.tree.leaves(log_decay), jax.tree.leaves(params), strict=True)]
    return 0.5 * sum(terms)


def accuracy(model, params, x, y) -> jax.Array:
    """Accuracy in % of ``params`` on ``x [N, 40]``, ``y [N]``."""
    return 100.0 * jnp.mean(jnp.argmax(model.apply({"params": params}, x), -1) == y)


def decay_problem(model, data: Data, num_steps: int, batch_size: int, lr: float,
                  hessian_batch: int) -> meta.InnerProblem:
    """`num_steps` Adam steps (step `lr`) of `model` from the context's params on batches of `batch_size`
    training rows drawn with each step's key; loss: cross-entropy + `penalty` (meta: the log decays, shaped like
    params). Objective: the validation cross-entropy; ``train_loss`` (for the implicit estimator) the same loss
    on `hessian_batch` training rows (all of them when it is at least their number); metrics: train / val / test
    accuracy (%) and the test cross-entropy."""
    task = meta.classifier_task(model)
    n = data.x.shape[0]

    def rows(key, size):
        if size >= n:  # (the whole training set, also when a class subset leaves fewer rows)
            return data.x, data.y
        r = jax.random.choice(key, n, (size,), replace=False)
        return data.x[r], data.y[r]

    def loss(m, params, batch):
        return task.loss(params, batch) + penalty(m, params)

    def metrics(m, params, key, context):
        return {"train_acc": accuracy(model, params, data.x, data.y),
                "val_acc": accuracy(model, params, data.x_val, data.y_val),
                "test_acc": accuracy(model, params, data.x_test, data.y_test),
                "test_loss": task.loss(params, (data.x_test, data.y_test))}

    return meta.inner_problem(
        task, optax.adam(lr), lambda m, t, key, c: rows(key, batch_size), num_steps, loss=loss,
        init=lambda m, key, params0: params0,
        objective=lambda m, params, key, c: task.loss(params, (data.x_val, data.y_val)),
        train_loss=lambda m, params, key, c: loss(m, params, rows(key, hessian_batch)),
        metrics=metrics)


def full_decays(params, value) -> dict:
    """Log decays shaped like `params`, all ``log(value)`` (``-inf`` for 0: no decay)."""
    return jax.tree.map(lambda p: jnp.full(p.shape, jnp.log(value), jnp.float32), params)


def make_estimator(method: str, config: ManyHyperparametersConfig, data: Data) -> meta.Estimator:
    """The alternating scheme's hypergradient: implicit (K steps from the carried state, then the Neumann
    solve) or online truncated backprop (windows of K steps of one run of total_steps)."""
    if method == "implicit":
        problem = decay_problem(MODEL, data, config.inner_steps, config.batch_size, config.inner_lr,
                                config.hessian_batch)
        return meta.implicit(problem, solver="neumann", iterations=config.neumann_iterations,
                             neumann_alpha=config.neumann_alpha, warm_start=True)
    problem = decay_problem(MODEL, data, config.total_steps, config.batch_size, config.inner_lr,
                            config.hessian_batch)
    return meta.truncated(problem, config.inner_steps, online=True)


# ----------------------------------------------------------------------------------------------------------------
# runs
def seed_keys(config) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(init, fixed-decay runs, hyper runs)`` keys ``[S]`` each: the init is shared by every method."""
    base = jnp.stack([jax.random.key(s) for s in range(config.seeds)])
    return tuple(jax.vmap(lambda k, i=i: jax.random.fold_in(k, i))(base) for i in range(3))


def fixed_run(config, data: Data):
    """``one(log_decay, params0, key) -> final metrics``: a whole training run with the decays held fixed."""
    problem = decay_problem(MODEL, data, config.total_steps, config.batch_size, config.inner_lr,
                            config.hessian_batch)

    def one(u, p0, key):
        state, _ = meta.run_inner(problem, u, key, p0)
        return problem.metrics(u, state, key, None)

    return one


def train_grid(config, data: Data, log_decays, params0, keys) -> dict:
    """Every fixed decay × every seed in one program: ``log_decays`` [G, ...] (each shaped like params),
    ``params0`` and ``keys`` [S] → final metrics ``[G, S]``."""
    per_seed = jax.vmap(fixed_run(config, data), in_axes=(None, 0, 0))
    return jax.device_get(jax.jit(jax.vmap(per_seed, in_axes=(0, None, None)))(log_decays, params0, keys))


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


QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)
HIST_EDGES = np.linspace(-10.0, 2.0, 97)  # log10 decay bins of 0.125 (values outside are clipped to the ends)


def decay_spread(log_decays) -> dict:
    """The learned decays of each tensor pooled over seeds (``log_decays``: shaped like params with a leading
    [S]), summarised small enough for the record: ``quantiles [tensors, 7]`` (`QUANTILES`) and ``hist [tensors,
    96]`` counts over `HIST_EDGES`, both of log10 λ, and ``mean`` / ``std`` ``[tensors]``."""
    per_tensor = [np.asarray(u, np.float64).ravel() / np.log(10.0) for u in jax.tree.leaves(log_decays)]
    return {"quantiles": np.stack([np.quantile(v, QUANTILES) for v in per_tensor]),
            "hist": np.stack([np.histogram(np.clip(v, HIST_EDGES[0], HIST_EDGES[-1]), HIST_EDGES)[0]
                              for v in per_tensor]),
            "mean": np.array([v.mean() for v in per_tensor]), "std": np.array([v.std() for v in per_tensor])}


def _data(config, classes=None):
    from mnist1d_jax.data.io import get_dataset

    # under a class subset `classes` every run sees only the kept digits
    return prepare_data(get_dataset(DatasetConfig()), config.val_fraction, 0, classes=classes)


def run(config: ManyHyperparametersConfig, ctx) -> dict:
    """Baselines (a) and (b) in one program, then each learned-decay method, then the fixed-decay retraining."""
    t0 = time.perf_counter()
    data = _data(config, ctx.classes)
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


__all__ = ["Config", "ManyHyperparametersConfig", "QUICK", "decay_problem", "draw", "full_decays", "make_estimator",
           "fixed_run", "penalty", "report_rows", "run", "train_grid"]
