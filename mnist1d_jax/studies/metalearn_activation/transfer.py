"""The transfer check of the learned activation: the learned f (frozen, noise-free, tabulated) and three standard
activations in the Table-1 MLP and CNN, trained by the core loop under the original harness."""

from __future__ import annotations

import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core.evaluation import split_metrics
from mnist1d_jax.core.runs import TrainConfig, train
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.io import get_dataset
from mnist1d_jax.data.splits import prepare_data
from mnist1d_jax.nn.models import get_model
from mnist1d_jax.studies.metalearn_activation.activations import tabulated_activation


def make_transfer_train(model: str, act: Callable, data, steps: int, eval_every: int = 250, batch: int = 100,
                        classes=None):
    """``train(key) -> test accuracy % at steps 0, E, 2E, ...``: the Table-1 ``model`` of the zoo with activation
    ``act``, trained by the core loop under the original harness (Adam 0.01, ``steps + 1`` updates)."""
    config = TrainConfig(model=model, total_steps=steps, eval_every=eval_every, batch_size=batch)
    net = get_model(model, activation=act)
    prepared = prepare_data(data, classes=classes)

    def run(key):
        _, metrics, _ = train(key, prepared, config, model=net, evaluate=split_metrics(prepared, ("test",)))
        return metrics["test_acc"]

    return run


def run_transfer(config, f_on_grid, grid, g_params, classes=None) -> dict:
    """The transfer check: test accuracy of the Table-1 MLP and CNN with the learned f (frozen, noise-free,
    tabulated: `activations.tabulated_activation`) and with ReLU / ELU / Swish, over
    ``config.transfer_seeds`` seeds each in one vmapped program; Adam 0.01, batch 100 in the harness's fixed
    order, ``transfer_steps + 1`` updates, test accuracy on the frozen test set every 250 steps."""
    data = get_dataset(DatasetConfig())
    acts = {"learned": tabulated_activation(g_params), "relu": jax.nn.relu, "elu": jax.nn.elu,
            "swish": jax.nn.swish}
    keys = jax.random.split(jax.random.key(1234), config.transfer_seeds)
    steps = config.transfer_steps
    eval_every = 250 if steps >= 250 else max(1, steps)
    table: dict = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for model in ("mlp", "cnn"):
        for name, act in acts.items():
            train_one = make_transfer_train(model, act, data, steps, eval_every, classes=classes)
            accs = np.asarray(jax.jit(jax.vmap(train_one))(keys))
            table.setdefault(model, {})[name] = {
                "final_mean": float(accs[:, -1].mean()), "final_std": float(accs[:, -1].std()),
                "best_mean": float(accs.max(1).mean()), "best_std": float(accs.max(1).std()),
                "final_per_seed": accs[:, -1]}
    return {"table": table, "seeds": config.transfer_seeds, "updates": steps + 1, "eval_every": eval_every,
            "data": "frozen default dataset (4,000 train / 1,000 test)", "optimizer": "Adam 0.01, batch 100",
            "learned_function": "seed-0 final f, noise-free, tabulated (1,025 Hermite nodes on [-12, 12])",
            "max_abs_table_error_on_grid": float(np.max(np.abs(
                np.asarray(acts["learned"](jnp.asarray(grid))) - np.asarray(f_on_grid)))),
            "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}


def transfer_table(transfer: dict) -> str:
    """The transfer numbers as a small Markdown table (final test accuracy, mean ± std over seeds)."""
    t = transfer["table"]
    names = list(next(iter(t.values())).keys())
    lines = ["| model | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for model, row in t.items():
        cells = [f"{row[n]['final_mean']:.1f} ± {row[n]['final_std']:.1f} (best {row[n]['best_mean']:.1f})"
                 for n in names]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
