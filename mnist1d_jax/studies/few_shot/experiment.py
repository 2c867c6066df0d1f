"""The few-shot study's ``run``: the template banks, every method per K trained, chosen on validation and scored
on the test tasks of both families; the first-order vs exact meta-gradient agreement; one example task per
family."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.new_classes import check_real_rows, template_bank
from mnist1d_jax.studies.few_shot.config import AGREEMENT_SEED, FAMILIES, TEST_SEED, VAL_SEED, FewShotConfig
from mnist1d_jax.studies.few_shot.methods import gradient_agreement, init_classifier, maml_problem
from mnist1d_jax.studies.few_shot.tasks import Tasks, accuracies, ci95, task_keys
from mnist1d_jax.studies.few_shot.training import train


def real_digits():
    """The frozen test split's digits: ``(x (1000, 40) float32, y (1000,) int32)``."""
    data = get_dataset(DatasetConfig())
    return jnp.asarray(data.x_test, jnp.float32), jnp.asarray(data.y_test, jnp.int32)


def fit(config, ctx, method: str, all_tasks: dict, base_tag: dict) -> dict:
    """`method` trained (once per K; pre-training once for all K), its parameters (and fine-tuning step size)
    chosen on the validation tasks, and scored on the test tasks of both families: ``{str(K): row}``."""
    val_keys = {k: task_keys(VAL_SEED, k, config.val_tasks) for k in config.shots}

    def val_of(k, params):  # mean validation accuracy (%) per fine-tuning step size, or one number
        return accuracies(config, method, all_tasks[k], params, "val", val_keys[k]).mean(0)

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
            keys = task_keys(TEST_SEED + list(FAMILIES).index(family), k, config.test_tasks)
            acc = accuracies(config, method, all_tasks[k], best["params"], family, keys)
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
    digits = real_digits()
    for k in config.shots:
        check_real_rows(np.asarray(digits[1]), k, config.n_query)
    all_tasks = {k: Tasks(config.n_way, k, config.n_query, bank, digits) for k in config.shots}
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
            problem = maml_problem(all_tasks[k].new, config.n_way, config.inner_steps, config.inner_lr)
            start = init_classifier(jax.random.key(config.meta_seed), config.n_way)
            keys = task_keys(AGREEMENT_SEED, k, config.agreement_tasks)
            agreement[str(k)] = {where: gradient_agreement(problem, params, keys, all_tasks[k].contexts["train"],
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
