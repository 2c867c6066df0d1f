"""Few-shot learning on new MNIST-1D classes (beyond the paper): MAML, first-order MAML, prototypical networks
and a pre-trained classifier with a fine-tuned last layer, on 5-way 1-shot and 5-way 5-shot tasks.

Protocol. New classes are new 12-point templates put through the generator's recipe (``data.new_classes``:
Gaussian-process bridges at the digits' roughness, within their value range, every two templates at least half
the closest digits' spacing apart). One packing gives three disjoint banks: ``train_templates`` = 1,000 for
meta-training and pre-training, ``val_templates`` = 200 for every choice, ``test_templates`` = 200 for the
reported numbers. A task takes N = 5 classes of a bank, K support and ``n_query`` = 15 query examples per class,
all rendered afresh from the task's key; the out-of-family test takes 5 of the ten real digits and their rows
of the frozen test split (no method ever sees a digit in training). Backbone (every method): the Table-1
CNN's convolutions, 125 features (``studies.few_shot_methods``).

Methods: MAML (``meta.exact`` of the task's `InnerProblem`: second order), first-order MAML (``meta.
from_value_and_grad``), prototypical networks, and pre-training on the 1,000 training templates (one softmax)
with a new N-way head fitted on each task's support set. MAML's inner loop: ``inner_steps`` SGD steps of
``inner_lr`` on the support set, the same in meta-training and test. Meta-training: Adam (``outer_lr``) for
``outer_steps`` outer steps of ``meta_batch`` tasks each (`meta.batched`, tasks a vmapped axis), one run per
method and K; pre-training: Adam for ``pretrain_steps`` steps of ``pretrain_batch`` examples.

Chosen on validation tasks (fixed keys, ``val_tasks`` = 300 per K), inside the run: every ``eval_every`` = 500
outer steps the current parameters are scored on the validation tasks and the best are kept (this chooses the
outer-step count); for the pre-trained net also the fine-tuning step size (``finetune_lrs``) for each K.
Chosen on the same validation tasks before the default run (prototype runs; no test task drawn): MAML's inner
loop among step sizes {0.1, 0.4} × {1, 5} steps, 1,000 outer steps each; validation accuracy (%) 5-shot /
1-shot: 0.4 × 1: 47.0 / 40.0; 0.4 × 5: 61.7 / 46.6; 0.1 × 1: 40.1 / 37.5; 0.1 × 5: 64.4 / 48.9, so 0.1 × 5.
First-order MAML failed on the same grid (every setting 24-38 %, erratic; best 37.8 / 35.8, both at 0.4 × 5),
so it keeps MAML's setting. The MAML curves were still rising at 1,000 steps, the prototypical net's at 3,000
(69.5 / 52.1), the pre-trained net's 5-shot score at 4,000 (66.2, fine-tuning step 0.03 the best of 0.01-3,
hence the grid around it; its 1-shot score peaked at 40.2 after 1,250 steps): the outer-step counts (3,000;
pre-training 6,000) are set by the 20-minute budget of the default run, not by a plateau.

Why first-order MAML falls behind (``gradient_agreement``): its per-task meta-gradient against the exact one on
``agreement_tasks`` = 512 training tasks, at the init and at MAML's chosen parameters (cosine of the means over
the tasks, median per-task cosine, per-task norms).

Reported: query accuracy (%) over ``test_tasks`` = 1,000 test tasks per (method, K, family), the same tasks
for every method, mean ± the 95 % interval ``1.96·sd/√n`` over tasks (tasks share the 200 test templates, so
the interval is for this bank's task distribution).
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
from mnist1d_jax.data.new_classes import check_real_rows, template_bank
from mnist1d_jax.data.templates import get_templates
from mnist1d_jax.runtime.figures import save_figure
from mnist1d_jax.runtime.validation import Config, choice, fail, integer, option, positive, tuple_of
from mnist1d_jax.studies import few_shot_methods as fm

NAME = "few_shot"
TITLE = "Few-shot learning on new MNIST-1D classes (beyond the paper)"
ORIGINAL_MINUTES = None
REFUSES_CLASS_SUBSET = ("its out-of-family test draws 5-way tasks from all ten digits, and its new classes are "
                        "kept apart from all ten templates")
METHODS = ("maml", "fomaml", "protonet", "pretrain")
LABELS = {"maml": "MAML (second order)", "fomaml": "first-order MAML", "protonet": "prototypical net",
          "pretrain": "pre-train + fine-tune head"}
FAMILIES = {"new": "new test templates", "digits": "real digits (out of family)"}
VAL_SEED, TEST_SEED, AGREEMENT_SEED = 10_000, 20_000, 30_000  # task keys: never a training step's
SHOWN_QUERIES = 5  # queries per class in the figure's example tasks (all 15 hide the support curves)


@dataclasses.dataclass(frozen=True)
class FewShotConfig(Config):
    methods: tuple[str, ...] = option(METHODS, tuple_of(choice(*METHODS), unique=True), "methods compared")
    shots: tuple[int, ...] = option((1, 5), tuple_of(integer(1, 50), unique=True), "K: support examples per class")
    n_way: int = option(5, integer(2, 10), "N: classes per task")
    n_query: int = option(15, integer(1, 50), "query examples per class")
    train_templates: int = option(1000, integer(5, 5000), "templates of meta-training and pre-training")
    val_templates: int = option(200, integer(5, 1000), "templates of the validation tasks")
    test_templates: int = option(200, integer(5, 1000), "templates of the test tasks")
    bank_seed: int = option(0, integer(0, 2**31 - 1), "key of the template banks")
    meta_seed: int = option(0, integer(0, 2**31 - 1), "key of the inits and the training tasks")
    meta_batch: int = option(16, integer(1, 1024), "tasks per outer step")
    outer_steps: int = option(3000, integer(1, 10_000_000), "outer Adam steps per method and K")
    outer_lr: float = option(1e-3, positive(1.0), "outer Adam step size (and pre-training's)")
    inner_steps: int = option(5, integer(1, 100), "MAML: SGD steps on the support set")
    inner_lr: float = option(0.1, positive(100.0), "MAML: inner SGD step size")
    pretrain_steps: int = option(6000, integer(1, 10_000_000), "pre-training Adam steps")
    pretrain_batch: int = option(256, integer(1, 100_000), "pre-training examples per step")
    finetune_steps: int = option(100, integer(1, 100_000), "full-batch steps of the new head")
    finetune_lrs: tuple[float, ...] = option((0.001, 0.003, 0.01, 0.03, 0.1, 0.3),
                                             tuple_of(positive(100.0), unique=True),
                                             "step sizes of the new head (chosen on validation)")
    val_tasks: int = option(300, integer(2, 100_000), "validation tasks per K")
    test_tasks: int = option(1000, integer(2, 1_000_000), "test tasks per K and family")
    eval_every: int = option(500, integer(1), "outer steps between validation scores (and checkpoints)")
    eval_block: int = option(100, integer(1), "tasks per vmapped block in scoring (memory)")
    agreement_tasks: int = option(512, integer(2, 100_000), "training tasks of the first-order vs exact comparison")

    def _check(self) -> None:
        if self.n_way > self.test_templates or self.n_way > self.val_templates:
            fail(self, "n_way", self.n_way, "must be <= the validation and test templates")


Config = FewShotConfig
QUICK = FewShotConfig(shots=(1,), n_query=3, train_templates=20, val_templates=10, test_templates=10,
                      meta_batch=2, outer_steps=4, inner_steps=2, pretrain_steps=4, pretrain_batch=16,
                      finetune_steps=3, finetune_lrs=(0.1, 1.0), val_tasks=4, test_tasks=6, eval_every=2,
                      eval_block=3, agreement_tasks=4)
PAPER_SEEDS: dict = {}


def ci95(acc) -> float:
    """Half-width of the normal 95 % interval of the mean of ``acc`` (per-task accuracies)."""
    acc = np.asarray(acc, float)
    return float(1.96 * acc.std(ddof=1) / np.sqrt(acc.size))


def _task_keys(seed: int, k: int, n: int) -> jax.Array:
    return jax.random.split(jax.random.fold_in(jax.random.key(seed), k), n)


def train(config, ctx, method: str, tag: dict, tasks: fm.Tasks, val_scores) -> dict:
    """Meta-train (or pre-train) `method`, scoring the parameters on validation every ``eval_every`` steps
    (``val_scores(params) -> {name: accuracy}``); returns the best parameters per name, the history and the
    timing. Resumable: `run_outer`'s checkpoint and the history live in ``ctx.store``."""
    name = f"{method}_{tag['k']}" if method != "pretrain" else method
    steps = config.pretrain_steps if method == "pretrain" else config.outer_steps
    est, start = fm.estimator_and_start(config, method, tasks, jax.random.key(config.meta_seed))
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


def _digits():
    """The frozen test split's digits: ``(x (1000, 40) float32, y (1000,) int32)``."""
    from mnist1d_jax.data.io import get_dataset  # (the dataset file's reader: only the run needs it)

    data = get_dataset(DatasetConfig())
    return jnp.asarray(data.x_test, jnp.float32), jnp.asarray(data.y_test, jnp.int32)


def fit(config, ctx, method: str, all_tasks: dict, base_tag: dict) -> dict:
    """`method` trained (once per K; pre-training once for all K), its parameters (and fine-tuning step size)
    chosen on the validation tasks, and scored on the test tasks of both families: ``{str(K): row}``."""
    val_keys = {k: _task_keys(VAL_SEED, k, config.val_tasks) for k in config.shots}

    def val_of(k, params):  # mean validation accuracy (%) per fine-tuning step size, or one number
        return fm.accuracies(config, method, all_tasks[k], params, "val", val_keys[k]).mean(0)

    if method == "pretrain":  # one pre-training; each K keeps its own best checkpoint
        shared = train(config, ctx, method, {**base_tag, "k": list(config.shots)}, all_tasks[config.shots[0]],
                       lambda p: {str(k): float(val_of(k, p).max()) for k in config.shots})
    out = {}
    for k in config.shots:
        if method == "pretrain":
            trained, pick = shared, str(k)
        else:
            trained, pick = train(config, ctx, method, {**base_tag, "method": method, "k": k}, all_tasks[k],
                                  lambda p, k=k: {"val": float(val_of(k, p))}), "val"
        best = trained["best"][pick]
        row = {"val": best["val"], "step": best["step"], "val_steps": trained["val_steps"],
               "val_curve": [v[pick] for v in trained["val"]], "train_seconds": trained["seconds"],
               "s_per_step": trained["s_per_step"]}
        lr_index = None
        if method == "pretrain":
            per_lr = val_of(k, best["params"])
            lr_index = int(np.argmax(per_lr))
            row.update(lr=config.finetune_lrs[lr_index], val_per_lr=[float(v) for v in per_lr])
        t0 = time.perf_counter()
        for family in FAMILIES:
            keys = _task_keys(TEST_SEED + list(FAMILIES).index(family), k, config.test_tasks)
            acc = fm.accuracies(config, method, all_tasks[k], best["params"], family, keys)
            acc = acc[:, lr_index] if lr_index is not None else acc
            row[family] = {"mean": float(acc.mean()), "ci95": ci95(acc), "per_task": acc}
        row["test_seconds"] = time.perf_counter() - t0
        out[str(k)] = {**row, "params": best["params"]}
        ctx.log(f"few-shot {method} K={k}: " + ", ".join(f"{f} {row[f]['mean']:.1f} ± {row[f]['ci95']:.1f}"
                                                          for f in FAMILIES))
    return out


def run(config: FewShotConfig, ctx) -> dict:
    """The banks, then every method per K (trained, chosen on validation, tested); one example task per family."""
    t0 = time.perf_counter()
    bank = template_bank(config.bank_seed, config.train_templates, config.val_templates, config.test_templates)
    digits = _digits()
    for k in config.shots:
        check_real_rows(np.asarray(digits[1]), k, config.n_query)
    all_tasks = {k: fm.Tasks(config.n_way, k, config.n_query, bank, digits) for k in config.shots}
    base_tag = {f: v for f, v in config.to_dict().items()  # (what training depends on)
                if f not in ("methods", "shots", "test_tasks", "eval_block", "agreement_tasks")}
    results, arrays = {}, {}
    chosen = {}
    for method in config.methods:
        results[method] = fit(config, ctx, method, all_tasks, base_tag)
        for k, row in results[method].items():
            chosen[method, k] = row.pop("params")
            for family in FAMILIES:
                arrays[f"{method}_{k}_{family}"] = row[family].pop("per_task")
    agreement = {}
    if "maml" in config.methods:  # why first-order MAML falls behind: its meta-gradient vs the exact one
        for k in config.shots:
            problem = fm.maml_problem(all_tasks[k].new, config.n_way, config.inner_steps, config.inner_lr)
            start = fm.init_classifier(jax.random.key(config.meta_seed), config.n_way)
            keys = _task_keys(AGREEMENT_SEED, k, config.agreement_tasks)
            agreement[str(k)] = {where: fm.gradient_agreement(problem, params, keys, all_tasks[k].contexts["train"],
                                                              config.eval_block)
                                 for where, params in (("init", start), ("maml", chosen["maml", str(k)]))}
    k_show = max(config.shots)
    example = {"k": k_show}
    for family in FAMILIES:
        tasks = all_tasks[k_show]
        task = tasks.draw(family)(jax.random.key(TEST_SEED + 99), tasks.contexts[family])
        example[family] = {f: np.asarray(v) for f, v in task._asdict().items()}
    example["templates"] = bank.test[example["new"]["classes"]]  # (N, 12): the new task's classes
    return {"results": results, "arrays": arrays, "example": example, "gradient_agreement": agreement,
            "banks": {"train": bank.train.shape[0], "val": bank.val.shape[0], "test": bank.test.shape[0],
                      "min_distance": bank.min_distance},
            "runtime": {"total_s": time.perf_counter() - t0}}


# ----------------------------------------------------------------------------------------------------------------
# report and figure
def _norms(a: dict, which: str) -> str:
    return f"{a[which + '_norm_median']:.3g} ({a[which + '_norm_max']:.3g})"


def report_rows(record: dict) -> list[dict]:
    rows = []
    c = record["config"]
    for family, what in FAMILIES.items():
        for k in c["shots"]:
            for method, per_k in record["results"].items():
                r = per_k[str(k)]
                how = (f"step {r['lr']:g}, pre-training step {r['step']}" if method == "pretrain"
                       else f"outer step {r['step']}")
                rows.append({"quantity": f"{c['n_way']}-way {k}-shot, {what}: {LABELS[method]} (test accuracy %, "
                                         f"95 % interval over {c['test_tasks']} tasks; {how} chosen on validation)",
                             "paper": "-", "ours": f"{r[family]['mean']:.1f} ± {r[family]['ci95']:.1f}"})
    for k, a in record.get("gradient_agreement", {}).items():
        i, m = a["init"], a["maml"]
        rows.append({"quantity": f"{k}-shot: first-order vs exact MAML meta-gradient on {c['agreement_tasks']} "
                                 "training tasks, at the init / at MAML's chosen parameters: cosine of the task means; "
                                 "median per-task cosine; per-task norms, exact and first-order (median, largest)",
                     "paper": "-", "ours": f"{i['cosine_of_means']:.2f} / {m['cosine_of_means']:.2f}; "
                                           f"{i['median_task_cosine']:.2f} / {m['median_task_cosine']:.2f}; exact "
                                           f"{_norms(i, 'exact')} / {_norms(m, 'exact')}, first-order "
                                           f"{_norms(i, 'first_order')} / {_norms(m, 'first_order')}"})
    for method, per_k in record["results"].items():
        what = "pre-training (once for every K)" if method == "pretrain" else "meta-training"
        rows.append({"quantity": f"{LABELS[method]}: {what}, seconds per outer step and validation accuracy of the "
                                 f"chosen parameters, per K",
                     "paper": "-", "ours": "; ".join(f"K={k}: {r['s_per_step']:.3f} s, validation {r['val']:.1f}"
                                                     for k, r in per_k.items())})
    return rows


def draw(record: dict, out: str | Path) -> list[Path]:
    """``few_shot.png``: one 5-way test task of new classes and one of digits (support curves coloured, some
    queries grey, each class's template inset), and the test accuracy of every method (bars, 95 % intervals)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c, ex = record["config"], record["example"]
    n = c["n_way"]
    fig = plt.figure(figsize=(15, 9))
    grid = fig.add_gridspec(3, n, height_ratios=[1, 1, 1.5])
    templates, digits = np.asarray(ex["templates"]), get_templates().x
    for row, family in enumerate(FAMILIES):
        task = ex[family]
        for j in range(n):
            ax = fig.add_subplot(grid[row, j])
            for curve in np.asarray(task["query_x"])[np.asarray(task["query_y"]) == j][:SHOWN_QUERIES]:
                ax.plot(curve, color="0.7", lw=0.7)
            for curve in np.asarray(task["support_x"])[np.asarray(task["support_y"]) == j]:
                ax.plot(curve, color=f"C{j}", lw=1.4)
            cls = int(np.asarray(task["classes"])[j])
            inset = ax.inset_axes([0.0, 0.78, 0.28, 0.22])  # the class's template (12 points), top left
            inset.plot(templates[j] if family == "new" else digits[cls], "k-", lw=1)
            inset.set_xticks([]), inset.set_yticks([]), inset.set_ylim(-0.55, 0.55)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"class {j}: " + (f"test template {cls}" if family == "new" else f"digit {cls}"), fontsize=9)
            if j == 0:
                ax.set_ylabel(f"{FAMILIES[family]}\n{ex['k']}-shot task", fontsize=9)
    methods = list(record["results"])
    width = 0.8 / len(methods)
    half = n // 2
    for i, family in enumerate(FAMILIES):
        ax = fig.add_subplot(grid[2, :half] if i == 0 else grid[2, half:])
        for j, method in enumerate(methods):
            means = [record["results"][method][str(k)][family]["mean"] for k in c["shots"]]
            cis = [record["results"][method][str(k)][family]["ci95"] for k in c["shots"]]
            ax.bar(np.arange(len(c["shots"])) + j * width, means, width, yerr=cis, capsize=3, color=f"C{j}",
                   label=LABELS[method])
        ax.axhline(100 / n, color="0.5", ls=":", lw=1)
        ax.set_xticks(np.arange(len(c["shots"])) + width * (len(methods) - 1) / 2,
                      [f"{n}-way {k}-shot" for k in c["shots"]])
        ax.set(ylabel="test accuracy (%)", title=f"{FAMILIES[family]} ({c['test_tasks']} tasks, 95 % intervals)",
               ylim=(0, 100))
        if i == 0:
            ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"Few-shot learning on MNIST-1D: one test task per family, support examples coloured, "
                 f"{SHOWN_QUERIES} of each class's {c['n_query']} queries grey, the class's 12-point template inset",
                 fontsize=10)
    return [save_figure(fig, Path(out) / "few_shot.png")]
