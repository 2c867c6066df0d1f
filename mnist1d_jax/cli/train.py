"""``mnist1d-jax train``: train one of the paper's models over several seeds and print the result table.

    mnist1d-jax train --model cnn --seeds 10
    mnist1d-jax train --model gru --seeds 4 --steps 3000 --shuffled
    mnist1d-jax train --model mlp --protocol modern --val-fraction 0.1 --lr 3e-3 --weight-decay 1e-4

Seeds run as one vmapped, compiled program per chunk of ``--chunk`` seeds (default: all at once); the progress
bar advances per chunk. Data: the default MNIST-1D dataset (the paper's frozen data), optionally with the
2024 seed-42 column permutation (``--shuffled``).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import jax
import numpy as np


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to an ``argparse`` subparsers object."""
    p = subparsers.add_parser("train", help="train a baseline model over seeds and print test accuracies",
                              description=__doc__.splitlines()[0])
    p.add_argument("--model", default="cnn", choices=["logistic", "mlp", "cnn", "gru"])
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--seed", type=int, default=0, help="seed i uses jax.random.split(key(seed), seeds)[i]")
    p.add_argument("--steps", type=int, default=6000, help="T (the harness makes T + 1 updates)")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument("--weight-decay", type=float, default=0.0, help="coupled L2, as PyTorch's Adam")
    p.add_argument("--protocol", default="harness", choices=["harness", "modern"])
    p.add_argument("--val-fraction", type=float, default=None,
                   help="hold out this fraction of train for checkpoint selection (modern: default 0.1)")
    p.add_argument("--shuffled", action="store_true", help="permute the 40 positions (2024 seed-42 permutation)")
    p.add_argument("--chunk", type=int, default=0, help="seeds per compiled call (0: all)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=main, run=lambda args, parser=None: main(args))
    return p


def main(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from mnist1d_jax.core.runs import TrainConfig, train_seeds
    from mnist1d_jax.data.generator import make_dataset
    from mnist1d_jax.data.splits import SHUFFLE_PERMUTATION, prepare_data

    val = args.val_fraction if args.val_fraction is not None else (0.1 if args.protocol == "modern" else 0.0)
    data = prepare_data(make_dataset(), val, 0, SHUFFLE_PERMUTATION if args.shuffled else None)
    config = TrainConfig(model=args.model, protocol=args.protocol, learning_rate=args.lr,
                         weight_decay=args.weight_decay, batch_size=args.batch_size, total_steps=args.steps,
                         eval_every=args.eval_every)
    keys = jax.random.split(jax.random.key(args.seed), args.seeds)
    chunk = args.chunk or args.seeds
    rows: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for start in tqdm(range(0, args.seeds, chunk), desc=f"{args.model} ({args.seeds} seeds)", unit="chunk",
                      disable=args.no_progress):
        _, _, summary = train_seeds(keys[start:start + chunk], data, config)
        for k, v in summary.items():
            if k.endswith("_acc"):
                rows.setdefault(k, []).extend(np.asarray(v).tolist())
    seconds = time.perf_counter() - t0
    print(f"\n{args.model}, {dataclasses.asdict(config)['protocol']} protocol, {args.seeds} seeds, "
          f"T = {args.steps}{', shuffled' if args.shuffled else ''}: {seconds:.1f} s (compile included)\n")
    print("| test accuracy (%) | mean ± std | min | max |\n|---|---|---|---|")
    names = {"final_test_acc": "final", "best_test_acc": "best over evaluations",
             "selected_test_acc": "validation-selected"}
    for k, v in rows.items():
        a = np.asarray(v)
        print(f"| {names.get(k, k)} | {a.mean():.1f} ± {a.std():.1f} | {a.min():.1f} | {a.max():.1f} |")
    return 0


if __name__ == "__main__":  # python -m mnist1d_jax.cli.train ...
    parser = argparse.ArgumentParser(prog="mnist1d-jax")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    a = parser.parse_args()
    raise SystemExit(a.func(a))
