"""A learned optimiser for MNIST-1D (beyond the paper): a tiny per-parameter MLP meta-trained by PES.

Protocol (after Andrychowicz et al. 2016 and Metz et al.'s small per-parameter MLP optimisers, written here from
the papers): the optimiser (``learned_optimizer.net``: features g/√v, three momenta /√v, θ and t/T; a 6 → 16 →
2 tanh MLP shared by every parameter; 147 meta-parameters) starts as Adam at the tuned Adam rate and learns a
correction. The meta-training task is the Table-1 MLP (40→100→100→10, residual, ReLU) on the 4,000 frozen
training examples with batch 100 for ``inner_steps`` = 1,000 steps, a fresh init and batch order for every inner
run (drawn from the run's key). The meta-objective is the mean training loss over the run (what the goal
measures; dense, one signal per step, and no held-out data is needed), estimated by online PES (``meta.pes``,
windows of ``window`` = 100 steps, σ = ``sigma``, ``pairs`` antithetic pairs sharing the run's init and batches)
with Adam on the meta-parameters for ``outer_steps`` outer steps (one window each).

Baselines: Adam and SGD with momentum 0.9, each with its learning rate chosen on a 7-point log grid by the same
objective (mean training loss over the run) on ``tune_seeds`` seeds. Evaluation: ``eval_seeds`` = 10 unseen
seeds (inits and batch orders): mean training loss, the training-loss curve and test accuracy at the end. Then,
honestly, generalisation beyond meta-training, each beside Adam tuned the same way for that setting: 5x the
horizon, the Table-1 CNN and GRU, an MLP of width 500, and 15 % label noise (the original notebook's noise).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnist1d_jax import meta
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.splits import label_noise, prepare_data
from mnist1d_jax.nn.models import get_model
from mnist1d_jax.runtime.figures import new_figure, save_figure
from mnist1d_jax.runtime.results import mean_std
from mnist1d_jax.runtime.validation import Config, choice, integer, option, positive, tuple_of
from mnist1d_jax.studies.learned_optimizer import net as lopt

NAME = "learned_optimizer"
TITLE = "A learned optimiser (beyond the paper)"
ORIGINAL_MINUTES = None
REFUSES_CLASS_SUBSET = ("its label-noise setting replays the original notebook's draws over all 4,000 training "
                        "labels")
SETTINGS = ("horizon_5x", "cnn", "gru", "mlp_500", "label_noise")
EVAL_SEED = 10_000  # evaluation runs use keys EVAL_SEED + i; tuning runs 20_000 + i; meta-training its own


@dataclasses.dataclass(frozen=True)
class LearnedOptimizerConfig(Config):
    hidden: int = option(16, integer(1, 1024), "hidden units of the optimiser's MLP")
    inner_steps: int = option(1000, integer(2, 1_000_000), "inner steps of the meta-training task")
    batch_size: int = option(100, integer(1, 4000), "examples per inner step")
    window: int = option(100, integer(1, 1_000_000), "PES window (inner steps; divides inner_steps)")
    sigma: float = option(0.01, positive(10.0), "PES perturbation std")
    pairs: int = option(8, integer(1, 10_000), "PES antithetic pairs")
    outer_steps: int = option(1000, integer(1, 10_000_000), "outer steps (one window each)")
    outer_lr: float = option(3e-3, positive(10.0), "Adam step on the meta-parameters")
    adam_grid: tuple[float, ...] = option((3e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 3e-2),
                                          tuple_of(positive(10.0), min_len=1, unique=True), "Adam rates tried")
    sgd_grid: tuple[float, ...] = option((3e-3, 1e-2, 2e-2, 3e-2, 5e-2, 1e-1, 3e-1),
                                         tuple_of(positive(10.0), min_len=1, unique=True), "SGD rates tried")
    tune_seeds: int = option(3, integer(1, 1000), "seeds the baselines' rates are chosen on")
    eval_seeds: int = option(10, integer(1, 1000), "unseen seeds of the evaluation")
    settings: tuple[str, ...] = option(SETTINGS, tuple_of(choice(*SETTINGS), min_len=0, unique=True),
                                       "generalisation settings")
    meta_seed: int = option(0, integer(0, 2**31 - 1), "key of meta-training")
    chunk: int = option(50, integer(1), "outer steps per compiled chunk (progress and checkpoints)")

    def _check(self) -> None:
        from mnist1d_jax.runtime.validation import fail

        if self.inner_steps % self.window:
            fail(self, "window", self.window, f"must divide inner_steps={self.inner_steps}")


Config = LearnedOptimizerConfig
QUICK = LearnedOptimizerConfig(hidden=4, inner_steps=8, window=4, pairs=1, outer_steps=2, chunk=1,
                               adam_grid=(1e-3, 1e-2), sgd_grid=(1e-2,), tune_seeds=1, eval_seeds=2,
                               settings=("cnn",), batch_size=20)
PAPER_SEEDS: dict = {}


# ----------------------------------------------------------------------------------------------------------------
# the inner problem: one short place
def training_problem(model, optimizer, steps: int, x, y, batch: int) -> meta.InnerProblem:
    """`model` from a fresh init (the key) trained for `steps` steps by ``optimizer(meta)`` on batches of `batch`
    rows of ``x, y`` drawn with each step's key; the meta-objective the mean training loss of the run."""
    def batches(m, t, key, context):
        rows = jax.random.choice(key, x.shape[0], (batch,), replace=False)
        return x[rows], y[rows]

    return meta.inner_problem(meta.classifier_task(model), optimizer, batches, steps)


def _setting(name: str, config, data, noisy_y):
    """``(model, steps, y_train)`` of a setting (``"main"``: the meta-training task)."""
    model = {"cnn": "cnn", "gru": "gru"}.get(name, "mlp")
    kwargs = {"width": 500} if name == "mlp_500" else {}
    steps = config.inner_steps * (5 if name == "horizon_5x" else 1)
    return get_model(model, **kwargs), steps, (noisy_y if name == "label_noise" else data.y)


def _runs(problem, metas, keys, x_test, y_test, model):
    """``(losses [M, S, T], test accuracy % [M, S])`` of `problem` at each of ``metas`` (leading axis M) from
    each key ``keys [S]``: one vmapped program."""
    def one(m, key):
        state, losses = meta.run_inner(problem, m, key, None)
        acc = 100.0 * jnp.mean(jnp.argmax(model.apply({"params": state.params}, x_test), -1) == y_test)
        return losses, acc

    return jax.jit(jax.vmap(jax.vmap(one, in_axes=(None, 0)), in_axes=(0, None)))(metas, keys)


def _keys(first: int, n: int):
    return jnp.stack([jax.random.key(first + i) for i in range(n)])


def _tuned(kind: str, grid, model, steps, x, y, config, data) -> dict:
    """The grid rate with the lowest mean training loss on the tuning seeds, then its evaluation."""
    make = (lambda u: optax.adam(jnp.exp(u))) if kind == "adam" else (lambda u: optax.sgd(jnp.exp(u), 0.9))
    problem = training_problem(model, make, steps, x, y, config.batch_size)
    logs = jnp.log(jnp.asarray(grid, jnp.float32))
    losses, _ = _runs(problem, logs, _keys(20_000, config.tune_seeds), data.x_test, data.y_test, model)
    objective = np.nanmean(np.where(np.isfinite(losses), losses, np.nan), axis=(1, 2))
    objective = np.where(np.isfinite(objective), objective, np.inf)
    best = int(np.argmin(objective))
    losses, acc = _runs(problem, logs[best][None], _keys(EVAL_SEED, config.eval_seeds), data.x_test, data.y_test,
                        model)
    return {"lr": float(grid[best]), "objective_per_lr": [float(v) for v in objective],
            "losses": np.asarray(losses[0]), "test_acc": np.asarray(acc[0])}


def _learned(theta, model, steps, x, y, config, data) -> dict:
    problem = training_problem(model, lambda m: lopt.learned_optimizer(m, steps), steps, x, y, config.batch_size)
    losses, acc = _runs(problem, jax.tree.map(lambda a: jnp.asarray(a)[None], theta),
                        _keys(EVAL_SEED, config.eval_seeds), data.x_test, data.y_test, model)
    return {"losses": np.asarray(losses[0]), "test_acc": np.asarray(acc[0])}


def meta_train(config, ctx, data, start_lr: float) -> dict:
    """PES on the meta-training task, one window per outer step, resumable from ``ctx.store``."""
    model, steps = get_model("mlp"), config.inner_steps
    problem = training_problem(model, lambda m: lopt.learned_optimizer(m, steps), steps, data.x, data.y,
                               config.batch_size)
    est = meta.pes(problem, config.window, config.sigma, config.pairs, online=True)
    theta0 = lopt.init_meta(jax.random.key(config.meta_seed), config.hidden, start_lr)
    tag = {**{k: v for k, v in config.to_dict().items() if k not in ("eval_seeds", "settings", "chunk")},
           "start_lr": start_lr}
    bar = ctx.bar(config.outer_steps, f"learned optimiser, PES ({2 * config.pairs} particles)", "outer step")
    timing: dict = {}
    try:
        state, metrics = meta.run_outer(
            est, optax.adam(config.outer_lr), theta0, None, config.outer_steps, key=jax.random.key(config.meta_seed),
            chunk=config.chunk, checkpoint=meta.Checkpoint(ctx.store, "meta_training", tag),
            on_chunk=lambda st, _: bar.update(int(st.step) - bar.n), timing=timing)
    finally:
        bar.close()
    return {"theta": jax.tree.map(np.asarray, state.meta), "objective": np.asarray(metrics["value"]),
            "seconds": timing["wall_s"], "cost": dict(est.cost._asdict()),
            "size": int(sum(np.size(a) for a in jax.tree.leaves(theta0)))}


def run(config: LearnedOptimizerConfig, ctx) -> dict:
    """Tune the baselines, meta-train from tuned Adam, evaluate on unseen seeds, then every setting."""
    from mnist1d_jax.data.io import get_dataset

    t0 = time.perf_counter()
    data = prepare_data(get_dataset(DatasetConfig()))
    noisy_y = jnp.asarray(label_noise(np.asarray(data.y), DatasetConfig())[0])
    x, y = data.x, data.y
    model, steps = get_model("mlp"), config.inner_steps
    adam = _tuned("adam", config.adam_grid, model, steps, x, y, config, data)
    sgd = _tuned("sgd", config.sgd_grid, model, steps, x, y, config, data)
    ctx.log(f"tuned Adam {adam['lr']:g}, SGD {sgd['lr']:g}")
    trained = meta_train(config, ctx, data, adam["lr"])
    main = {"adam": adam, "sgd": sgd, "learned": _learned(trained["theta"], model, steps, x, y, config, data)}
    settings = {}
    for name in config.settings:
        s_model, s_steps, s_y = _setting(name, config, data, noisy_y)
        settings[name] = {"steps": s_steps,
                          "adam": _tuned("adam", config.adam_grid, s_model, s_steps, x, s_y, config, data),
                          "learned": _learned(trained["theta"], s_model, s_steps, x, s_y, config, data)}
        ctx.log(f"setting {name} done")
    grads = np.linspace(-3, 3, 61, dtype=np.float32)
    curve = {f"momentum {m:g}": np.asarray(lopt.update_curve(trained["theta"], jnp.asarray(grads), momentum=m))
             for m in (-1.0, 0.0, 1.0)}
    return {"meta_training": trained, "main": main, "settings": settings, "update_grid": grads,
            "update_curves": curve, "eval_seeds": [EVAL_SEED + i for i in range(config.eval_seeds)],
            "runtime": {"total_s": time.perf_counter() - t0}}


# ----------------------------------------------------------------------------------------------------------------
def _mean_loss(r) -> np.ndarray:
    return np.asarray(r["losses"]).mean(axis=-1)  # per seed: the mean training loss of the run


def _rate(lr: float, grid) -> str:
    """The chosen rate, flagged when it is an end of its grid (the tuned optimum may lie beyond it)."""
    edge = " (top of the grid)" if lr == max(grid) else " (bottom of the grid)" if lr == min(grid) else ""
    return f"{lr:g}{edge}"


def report_rows(record: dict) -> list[dict]:
    main, cfg = record["main"], record["config"]
    mt = record["meta_training"]
    rows = [{"quantity": f"meta-training task (Table-1 MLP, {cfg['inner_steps']} steps): mean training loss, "
                         f"learned / tuned Adam ({_rate(main['adam']['lr'], cfg['adam_grid'])}) / tuned SGD "
                         f"({_rate(main['sgd']['lr'], cfg['sgd_grid'])}), "
                         f"{len(record['eval_seeds'])} unseen seeds", "paper": "-",
             "ours": " / ".join(mean_std(_mean_loss(main[k]), 3) for k in ("learned", "adam", "sgd"))},
            {"quantity": "test accuracy at the end, learned / tuned Adam / tuned SGD", "paper": "-",
             "ours": " / ".join(mean_std(main[k]["test_acc"]) for k in ("learned", "adam", "sgd"))},
            {"quantity": f"meta-training: PES, {mt['size']} meta-parameters, {cfg['outer_steps']} outer steps",
             "paper": "-", "ours": f"{mt['seconds'] / 60:.1f} min"}]
    for name, s in record["settings"].items():
        rate = _rate(s["adam"]["lr"], cfg["adam_grid"])
        rows.append({"quantity": f"generalisation, {name.replace('_', ' ')} ({s['steps']} steps): mean training loss"
                                 f" / test accuracy, learned vs tuned Adam ({rate})",
                     "paper": "-",
                     "ours": f"{mean_std(_mean_loss(s['learned']), 3)} vs {mean_std(_mean_loss(s['adam']), 3)} / "
                             f"{mean_std(s['learned']['test_acc'])} vs {mean_std(s['adam']['test_acc'])}"})
    return rows


def draw(record: dict, out: str | Path) -> list[Path]:
    """``learned_optimizer.png``: training-loss curves (mean over seeds, band min-max) of the learned optimiser
    and tuned baselines in every setting, and the learned update as a function of the normalised gradient."""

    panels = [("meta-training task", record["main"])] + list(record["settings"].items())
    cols = min(4, len(panels) + 1)
    rows = -(-(len(panels) + 1) // cols)
    fig, axes = new_figure(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    axes = axes.ravel()
    colors = {"learned": "C3", "adam": "C0", "sgd": "C2"}
    for ax, (name, panel) in zip(axes, panels, strict=False):
        for kind in ("learned", "adam", "sgd"):
            if kind not in panel:
                continue
            losses = np.asarray(panel[kind]["losses"])
            steps = np.arange(1, losses.shape[1] + 1)
            smooth = lambda a: np.convolve(a, np.ones(20) / 20, mode="valid") if a.size > 40 else a  # noqa: E731
            mean = smooth(losses.mean(0))
            label = kind if kind == "learned" else f"{kind} {panel[kind]['lr']:g} (tuned)"
            ax.plot(steps[: mean.size], mean, color=colors[kind], lw=1.2, label=label)
        ax.set(title=name.replace("_", " "), xlabel="inner step", ylabel="training loss (20-step mean)",
               yscale="log")
        ax.legend(fontsize=7)
    ax = axes[len(panels)]
    grads = np.asarray(record["update_grid"])
    for i, (label, curve) in enumerate(record["update_curves"].items()):
        ax.plot(grads, np.asarray(curve), color=f"C{i}", label=f"learned, {label}")
        m = float(label.split()[-1])
        ax.plot(grads, np.full_like(grads, -m), color=f"C{i}", ls=":", lw=1)
    ax.set(xlabel="g/√v", ylabel="update / η", title="Learned update (dotted: Adam's, −m/√v)")
    ax.legend(fontsize=7)
    for ax in axes[len(panels) + 1:]:
        ax.axis("off")
    fig.suptitle(f"Learned optimiser ({record['meta_training']['size']} meta-parameters, PES) vs tuned baselines",
                 fontsize=10)
    fig.tight_layout()
    return [save_figure(fig, Path(out) / "learned_optimizer.png", tight=False)]
