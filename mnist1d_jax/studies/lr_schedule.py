"""A learned learning-rate schedule for the Table-1 MLP, metalearned by PES (beyond the paper).

Protocol: the inner run is the Table-1 MLP (the zoo's ``MLP()``: 40→100→100→10, ReLU, residual, the PyTorch-
default init) trained by Adam (β 0.9 / 0.999, ε 1e-8, no weight decay) with batch 100 for ``inner_steps`` =
1,000 steps on 3,500 of the 4,000 frozen training examples (a fresh permutation every epoch, from the run's
key); the other 500 are the validation set, never trained on. The schedule is the log learning rate at
``knots`` = 16 points evenly spaced over the run, linearly interpolated (η_t = exp of the interpolant), and
starts as the constant 0.01 (Table 1's rate). The meta-objective is the soft validation error (1 − the mean
softmax probability of the true class) on a rotating 100-example validation batch, averaged over the last
``objective_steps`` = 200 inner steps: it tracks accuracy without the overconfidence that makes the validation
*loss* of an overfitting MLP favour tiny rates. It is metalearned by PES (`meta.pes`, windows of 100 steps,
σ = 0.1 in log-rate units, 4 antithetic pairs; all windows of a run per outer step) with Adam (step 0.05) on
the knots, for each of ``meta_seeds`` (init and batch order of the meta-training run) in one vmapped call.

Comparison: constant rates and cosine decays to zero (peak rates on ``grid``) are the baselines; the best of
each is chosen by mean validation accuracy over the evaluation seeds. Every schedule (each learned one, every
constant and cosine) is then trained from ``eval_seeds`` fresh seeds (inits and batch orders unseen in
meta-training) in one vmapped program, and test accuracy on the 1,000 frozen test examples is reported at the
end of training (no early stopping).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax import meta as metalib
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.nn.models import MLP
from mnist1d_jax.runtime.figures import save_figure
from mnist1d_jax.runtime.results import mean_std, seeds_text
from mnist1d_jax.runtime.validation import Config, fail, fraction, integer, option, positive, tuple_of

NAME = "lr_schedule"
TITLE = "A learned learning-rate schedule (beyond the paper)"
ORIGINAL_MINUTES = None


@dataclasses.dataclass(frozen=True)
class ScheduleStudyConfig(Config):
    inner_steps: int = option(1000, integer(2, 1_000_000), "Adam steps of every inner run")
    batch_size: int = option(100, integer(1, 10_000), "examples per inner batch")
    knots: int = option(16, integer(2, 1000), "knots of the piecewise-linear log learning rate")
    initial_lr: float = option(0.01, positive(10.0), "the schedule's starting (constant) rate")
    val_fraction: float = option(0.125, fraction(lo_open=True), "share of the training set held out (500 of 4,000)")
    objective_steps: int = option(200, integer(1), "the meta-objective averages the last this many inner steps")
    val_batch: int = option(100, integer(1, 100_000), "validation examples per inner step (rotating)")
    window: int = option(100, integer(1, 1_000_000), "PES window (inner steps; divides inner_steps)")
    sigma: float = option(0.1, positive(10.0), "PES perturbation std, in log-rate units")
    pairs: int = option(4, integer(1, 10_000), "PES antithetic pairs")
    outer_steps: int = option(60, integer(1, 1_000_000), "outer Adam steps on the knots")
    outer_lr: float = option(0.05, positive(10.0), "outer Adam step size")
    meta_seeds: tuple[int, ...] = option((0, 1, 2), tuple_of(integer(0, 2**31 - 1), unique=True),
                                         "seeds of the meta-training runs (one learned schedule each)")
    eval_seeds: int = option(5, integer(1, 10_000), "fresh seeds every schedule is evaluated on")
    grid: tuple[float, ...] = option((1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2), tuple_of(positive(10.0), unique=True),
                                     "constant rates and cosine peaks of the baselines")
    chunk: int = option(5, integer(1), "outer steps per compiled chunk (progress and checkpoints)")

    def _check(self) -> None:
        if self.inner_steps % self.window:
            fail(self, "window", self.window, f"must divide inner_steps={self.inner_steps}")
        if self.objective_steps > self.inner_steps:
            fail(self, "objective_steps", self.objective_steps, f"must be <= inner_steps={self.inner_steps}")
        n_val = round(4000 * self.val_fraction)
        if self.val_batch > n_val:
            fail(self, "val_batch", self.val_batch, f"must be <= the {n_val} validation examples")
        if self.batch_size > 4000 - n_val:
            fail(self, "batch_size", self.batch_size, f"must be <= the {4000 - n_val} training examples")


Config = ScheduleStudyConfig
QUICK = ScheduleStudyConfig(inner_steps=12, window=4, objective_steps=4, knots=3, pairs=1, outer_steps=2, chunk=1,
                            meta_seeds=(0,), eval_seeds=2, grid=(1e-2,))
PAPER_SEEDS: dict = {}
SEED_OFFSET = 1000  # evaluation seeds are SEED_OFFSET + i: disjoint from the meta-training seeds


# ----------------------------------------------------------------------------------------------------------------
# the inner run: one definition for meta-training and evaluation
def knot_steps(config: ScheduleStudyConfig) -> jax.Array:
    """``[knots]`` float32: the inner steps the knots sit at, evenly spaced over ``0..inner_steps-1``."""
    return jnp.linspace(0.0, config.inner_steps - 1, config.knots, dtype=jnp.float32)


def rate_at(log_lr: jax.Array, t: jax.Array, config: ScheduleStudyConfig) -> jax.Array:
    """The learning rate of the knots ``log_lr [knots]`` at inner step(s) `t` (linear in log η between knots)."""
    return jnp.exp(jnp.interp(jnp.asarray(t, jnp.float32), knot_steps(config), log_lr))


def schedule_rates(log_lr: jax.Array, config: ScheduleStudyConfig) -> jax.Array:
    """``[inner_steps]`` learning rates of the knots ``log_lr [knots]``."""
    return rate_at(log_lr, jnp.arange(config.inner_steps), config)


def _adam_step(state, t, lr, ctx: dict, data):
    """One Adam step of the Table-1 MLP at rate `lr` on batch t of ``ctx["idx"]``: the inner step of both the
    meta-training runs and the evaluation runs."""
    params, opt = state
    idx = ctx["idx"][t]
    grads = jax.grad(_TASK.loss)(params, (data.x[idx], data.y[idx]))
    updates, opt = _ADAM.update(grads, opt, params)
    return jax.tree.map(lambda p, u: p - lr * u, params, updates), opt


_MODEL = MLP()
_TASK = metalib.classifier_task(_MODEL)
_ADAM = optax.scale_by_adam()


def _batch_indices(key, config: ScheduleStudyConfig, n_train: int) -> jax.Array:
    """``[inner_steps, batch]`` int32: a fresh permutation of the training rows per epoch."""
    per_epoch = n_train // config.batch_size
    epochs = -(-config.inner_steps // per_epoch)
    perms = jax.vmap(lambda k: jax.random.permutation(k, n_train))(jax.random.split(key, epochs))
    idx = perms[:, : per_epoch * config.batch_size].reshape(epochs * per_epoch, config.batch_size)
    return idx[: config.inner_steps]


def make_context(seed, config: ScheduleStudyConfig, n_train: int) -> dict:
    """One run's randomness: ``params0`` (the zoo init) and ``idx [T, B]`` (its batch order)."""
    k_init, k_batches = jax.random.split(jax.random.key(seed))
    return {"params0": _TASK.init(k_init), "idx": _batch_indices(k_batches, config, n_train)}


def make_problem(config: ScheduleStudyConfig, data) -> metalib.InnerProblem:
    """The inner run as a `meta.InnerProblem`: meta the knots ``log_lr [knots]``; context from `make_context`
    (the key is unused: each meta seed keeps its init and batch order); state ``(params, adam state)``; step t
    one Adam step at rate η_t on batch t, its loss the soft validation error after the update. The objective
    averages that error over the last ``objective_steps`` steps (the weights), on a rotating validation batch:
    an objective *along* the trajectory, not of the final state only, so it is the steps' loss rather than the
    problem's end-of-run ``objective``; it is computed only where it carries weight (0 elsewhere)."""
    x_val, y_val = data.x_val, data.y_val
    n_val, first = x_val.shape[0], config.inner_steps - config.objective_steps

    def init(log_lr, key, ctx):
        return ctx["params0"], _ADAM.init(ctx["params0"])

    def soft_error(params, t):
        start = (t * config.val_batch) % (n_val - config.val_batch + 1)
        xv = jax.lax.dynamic_slice_in_dim(x_val, start, config.val_batch)
        yv = jax.lax.dynamic_slice_in_dim(y_val, start, config.val_batch)
        p = jax.nn.softmax(_MODEL.apply({"params": params}, xv))
        return 1.0 - jnp.mean(jnp.take_along_axis(p, yv[:, None], axis=1))

    def step(log_lr, state, t, key, ctx):
        params, opt = _adam_step(state, t, rate_at(log_lr, t, config), ctx, data)
        # t is the same for every particle and seed (not batched), so this stays a branch under vmap
        loss = jax.lax.cond(t >= first, lambda: soft_error(params, t), lambda: jnp.zeros((), jnp.float32))
        return (params, opt), loss

    weights = (jnp.arange(config.inner_steps) >= first).astype(jnp.float32) / config.objective_steps
    return metalib.InnerProblem(init, step, config.inner_steps, weights)


def train_with_rates(rates: jax.Array, ctx: dict, config: ScheduleStudyConfig, data) -> dict:
    """Train with the per-step rates ``rates [T]`` from `ctx`: validation and test accuracy (%) at the end."""
    def body(state, t):
        return _adam_step(state, t, rates[t], ctx, data), None

    (params, _), _ = jax.lax.scan(body, (ctx["params0"], _ADAM.init(ctx["params0"])), jnp.arange(config.inner_steps))
    acc = lambda x, y: 100.0 * jnp.mean(jnp.argmax(_MODEL.apply({"params": params}, x), -1) == y)  # noqa: E731
    return {"val_acc": acc(data.x_val, data.y_val), "test_acc": acc(data.x_test, data.y_test)}


def baseline_rates(config: ScheduleStudyConfig) -> dict[str, jax.Array]:
    """``{name: rates [T]}``: a constant and a cosine decay to zero (peak ``η``) for each ``η`` of the grid."""
    t = jnp.arange(config.inner_steps, dtype=jnp.float32)
    cosine = 0.5 * (1.0 + jnp.cos(jnp.pi * t / config.inner_steps))
    out = {f"constant {lr:g}": jnp.full((config.inner_steps,), lr, jnp.float32) for lr in config.grid}
    out |= {f"cosine {lr:g}": lr * cosine for lr in config.grid}
    return out


# ----------------------------------------------------------------------------------------------------------------
def _data(config: ScheduleStudyConfig, classes=None):
    from mnist1d_jax.data.io import get_dataset

    return prepare_data(get_dataset(DatasetConfig()), config.val_fraction, 0, classes=classes)


def run(config: ScheduleStudyConfig, ctx) -> dict:
    """Meta-train one schedule per meta seed (one vmapped `run_outer`, resumable), then evaluate every schedule
    on the evaluation seeds in one program."""
    t0 = time.perf_counter()
    data = _data(config, ctx.classes)
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


def _learned_test(record: dict) -> np.ndarray:
    """``[meta seeds]``: each learned schedule's test accuracy, averaged over the evaluation seeds."""
    return np.array([np.mean(record["evaluation"][n]["test_acc"]) for n in record["learned"]])


def report_rows(record: dict) -> list[dict]:
    ev, n_eval = record["evaluation"], len(record["eval_seeds"])
    rows = []
    for label, name in (("best constant rate", record["best_constant"]), ("best cosine decay", record["best_cosine"])):
        rows.append({"quantity": f"test accuracy after {record['config']['inner_steps']} steps, {label} "
                                 f"({name}, chosen on validation; {seeds_text(n_eval)})", "paper": "-",
                     "ours": mean_std(ev[name]["test_acc"])})
    learned = _learned_test(record)
    rows.append({"quantity": f"test accuracy, learned schedule (PES; {seeds_text(len(learned))} of meta-training, "
                             f"each evaluated on {seeds_text(n_eval)})", "paper": "-",
                 "ours": f"{mean_std(learned)} (per meta seed: " + ", ".join(f"{v:.1f}" for v in learned) + ")"})
    rt = record["runtime"]
    rows.append({"quantity": "runtime: meta-training / evaluation of every schedule", "paper": "-",
                 "ours": f"{rt['meta_training_s'] / 60:.1f} min / {rt['evaluation_s']:.0f} s"})
    return rows


def draw(record: dict, out: Path) -> list[Path]:
    """``lr_schedule.png``: the schedules (learned per meta seed, best constant, best cosine), PES's objective
    vs outer step, and test accuracy per schedule (dots: evaluation seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_s, ax_o, ax_a) = plt.subplots(1, 3, figsize=(15, 4.2))
    for name, rates in record["rates"].items():
        style = {"lw": 2.0, "color": "black", "ls": "--"} if name == record["best_constant"] else (
            {"lw": 2.0, "color": "gray"} if name == record["best_cosine"] else {"lw": 1.2})
        ax_s.plot(np.asarray(rates), label=name, **style)
    ax_s.set(yscale="log", xlabel="inner step", ylabel="Adam learning rate", title="Schedules")
    ax_s.legend(fontsize=7)
    objective = np.asarray(record["objective"])
    for i, s in enumerate(record["meta_seeds"]):
        ax_o.plot(np.arange(1, objective.shape[1] + 1), objective[i], lw=1, label=f"meta seed {s}")
    ax_o.set(xlabel="outer step", ylabel="soft validation error, last steps (PES estimate)",
             title="Meta-objective")
    ax_o.legend(fontsize=7)
    names = [record["best_constant"], record["best_cosine"], *record["learned"]]
    for i, name in enumerate(names):
        accs = np.asarray(record["evaluation"][name]["test_acc"])
        ax_a.scatter(np.full(accs.shape, i), accs, s=12, color=f"C{i}")
        ax_a.errorbar(i, accs.mean(), yerr=accs.std(), fmt="o", color="black", capsize=3)
    ax_a.set_xticks(range(len(names)), [n.replace(" (", "\n(") for n in names], fontsize=7)
    ax_a.set(ylabel="test accuracy at the end (%)", title="Evaluated on fresh seeds")
    fig.suptitle(f"Learned learning-rate schedule, Table-1 MLP, Adam, {record['config']['inner_steps']} steps",
                 fontsize=9)
    return [save_figure(fig, Path(out) / "lr_schedule.png")]
