"""``mnist1d-jax train``: one of the paper's models over several seeds, on the default dataset, as a table.

    mnist1d-jax train --model cnn --seeds 10
    mnist1d-jax train --model gru --seeds 4 --steps 3000 --shuffled
    mnist1d-jax train --model mlp --protocol modern --val-fraction 0.1 --lr 3e-3 --weight-decay 1e-4
    mnist1d-jax train --model cnn --seeds 3 --precision bf16    # the global matmul precision option
    mnist1d-jax --classes 0-7 train --model cnn --seeds 3       # train on digits 0-7, hold out 8 and 9

Seeds run as one vmapped, compiled program per chunk of ``--chunk`` seeds (default: all at once); the progress
bar advances per chunk. Data: the default MNIST-1D dataset (the paper's frozen data), optionally with the
2024 seed-42 column permutation (``--shuffled``).

With a class subset (the global ``--classes``, ``data.classes``) the model trains (and selects) on the kept
digits' examples and the test accuracy is on the kept digits' test examples; with digits held out the table is
followed by an out-of-distribution score per seed: the AUROC of the maximum softmax probability separating the
kept digits' test examples (positives) from the held-out digits' (``core.evaluation.max_softmax_auroc``), for
the final and, with a validation split, the validation-selected parameters.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np
from tqdm.auto import tqdm

from mnist1d_jax.cli.builder import add_config_options, config_from_args
from mnist1d_jax.cli.common import UsageError
from mnist1d_jax.core.evaluation import max_softmax_auroc
from mnist1d_jax.core.runs import TrainConfig, train_seeds
from mnist1d_jax.data.classes import classes_text, held_out_classes, is_subset
from mnist1d_jax.data.generator import make_dataset
from mnist1d_jax.data.splits import SHUFFLE_PERMUTATION, prepare_data
from mnist1d_jax.runtime.precision import resolve, use_precision
from mnist1d_jax.runtime.validation import (
    Config,
    boolean,
    choice,
    fail,
    fraction,
    integer,
    option,
    optional,
    positive,
    real,
)


@dataclasses.dataclass(frozen=True)
class TrainCommand(Config):
    """What ``mnist1d-jax train`` runs: a `TrainConfig` over ``seeds`` seeds on the default dataset."""

    model: str = option("cnn", choice("logistic", "mlp", "cnn", "gru"), "the Table-1 model")
    seeds: int = option(10, integer(1, 100_000), "how many seeds")
    seed: int = option(0, integer(0, 2**31 - 1), "seed i uses jax.random.split(key(seed), seeds)[i]")
    steps: int = option(6000, integer(1, 10_000_000), "T (the harness makes T + 1 updates)")
    eval_every: int = option(250, integer(1), "evaluate every this many steps (must divide steps)")
    batch_size: int = option(100, integer(1, 4000), "examples per batch")
    lr: float = option(1e-2, positive(1e3), "learning rate")
    weight_decay: float = option(0.0, real(0.0, 10.0), "coupled L2, as PyTorch's Adam")
    protocol: str = option("harness", choice("harness", "modern"), "batch order and checkpoint selection")
    val_fraction: float | None = option(None, optional(fraction()), "hold out this fraction for selection "
                                        "(modern: default 0.1)")
    shuffled: bool = option(False, boolean, "permute the 40 positions (the 2024 seed-42 permutation)")
    chunk: int = option(0, integer(0, 100_000), "seeds per compiled call (0: all)")

    def _check(self) -> None:
        if self.steps % self.eval_every:
            fail(self, "eval_every", self.eval_every, f"must divide steps={self.steps} (the last update is then "
                 "evaluated)")
        if self.protocol == "modern" and self.val_fraction == 0:
            fail(self, "val_fraction", self.val_fraction, "the modern protocol selects on validation: use > 0")
        held_out = self.val_fraction or (0.1 if self.protocol == "modern" else 0.0)
        if self.batch_size > int(4000 * (1 - held_out)):
            fail(self, "batch_size", self.batch_size, f"must be <= the {int(4000 * (1 - held_out))} training "
                 "examples")


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a baseline model over seeds and print test accuracies",
                              description=__doc__.splitlines()[0])
    p.add_argument("--no-progress", action="store_true")
    add_config_options(p, TrainCommand, title="training")
    p.set_defaults(run=run, parser=p)


def ood_auroc(config, params, data) -> list[float]:
    """Per seed of ``params`` (stacked over seeds): `max_softmax_auroc` of ``data``'s kept-digit test examples
    (``x_test``) against its held-out-digit ones (``x_held``), the model of ``config`` under its precision."""
    model = config.make_model()

    def one(p):
        return max_softmax_auroc(model.apply({"params": p}, data.x_test), model.apply({"params": p}, data.x_held))

    with use_precision(config.precision):
        return np.asarray(jax.jit(jax.vmap(one))(params)).tolist()


def run(args, parser) -> int:
    cmd = config_from_args(args, TrainCommand, None, parser)
    val = cmd.val_fraction if cmd.val_fraction is not None else (0.1 if cmd.protocol == "modern" else 0.0)
    # the global --classes (resolved by cli.app.main): only the kept digits' rows
    kept = args.classes
    data = prepare_data(make_dataset(), val, 0, SHUFFLE_PERMUTATION if cmd.shuffled else None, classes=kept)
    if cmd.batch_size > data.x.shape[0]:
        raise UsageError(f"--batch-size {cmd.batch_size} exceeds the {data.x.shape[0]} training examples of digits "
                         f"{classes_text(kept)}")
    # The global --precision (already the process's setting, see cli.app.main), recorded in the config too.
    config = TrainConfig(model=cmd.model, protocol=cmd.protocol, learning_rate=cmd.lr, weight_decay=cmd.weight_decay,
                         batch_size=cmd.batch_size, total_steps=cmd.steps, eval_every=cmd.eval_every,
                         precision=resolve(getattr(args, "precision", None)))
    keys = jax.random.split(jax.random.key(cmd.seed), cmd.seeds)
    chunk = cmd.chunk or cmd.seeds
    rows: dict[str, list[float]] = {}
    ood: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for start in tqdm(range(0, cmd.seeds, chunk), desc=f"{cmd.model} ({cmd.seeds} seeds)", unit="chunk",
                      disable=args.no_progress):
        states, _, summary = train_seeds(keys[start:start + chunk], data, config)
        for k, v in summary.items():
            if k.endswith("_acc"):
                rows.setdefault(k, []).extend(np.asarray(v).tolist())
        if data.x_held is not None:  # digits held out: the out-of-distribution score of each seed
            ood.setdefault("final_test_acc", []).extend(ood_auroc(config, states.params, data))
            if "selected_params" in summary:
                ood.setdefault("selected_test_acc", []).extend(ood_auroc(config, summary["selected_params"], data))
    seconds = time.perf_counter() - t0
    subset = (f", digits {classes_text(kept)} ({classes_text(held_out_classes(kept))} held out)"
              if is_subset(kept) else "")
    print(f"\n{cmd.model}, {cmd.protocol} protocol, {cmd.seeds} seeds, T = {cmd.steps}"
          f"{', shuffled' if cmd.shuffled else ''}, {config.precision} matmuls{subset}: {seconds:.1f} s "
          "(compile included)\n")
    what = (f"on the {data.x_test.shape[0]:,} test examples of digits {classes_text(kept)} "
            if is_subset(kept) else "")
    print(f"| test accuracy {what}(%) | mean ± std | min | max |\n|---|---|---|---|")
    names = {"final_test_acc": "final", "best_test_acc": "best over evaluations",
             "selected_test_acc": "validation-selected"}
    for k, v in rows.items():
        a = np.asarray(v)
        print(f"| {names.get(k, k)} | {a.mean():.1f} ± {a.std():.1f} | {a.min():.1f} | {a.max():.1f} |")
    if ood:
        print(f"\nOut-of-distribution score: AUROC of the maximum softmax probability, the {data.x_test.shape[0]:,} "
              f"test examples of digits {classes_text(kept)} against the {data.x_held.shape[0]:,} of held-out "
              f"{classes_text(held_out_classes(kept))} (1 = separated, 0.5 = chance)\n")
        print("| OOD AUROC | mean ± std | min | max |\n|---|---|---|---|")
        for k, v in ood.items():
            a = np.asarray(v)
            print(f"| {names[k]} | {a.mean():.3f} ± {a.std():.3f} | {a.min():.3f} | {a.max():.3f} |")
    return 0
