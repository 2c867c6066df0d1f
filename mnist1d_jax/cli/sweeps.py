"""``mnist1d-jax lottery`` and ``mnist1d-jax double-descent``: the two sweep studies with progress bars.

    mnist1d-jax lottery [--quick] [--trials 1] [--rounds 0 50 80 91 99] [--out figures] [--redraw]
    mnist1d-jax double-descent [--quick] [--seeds 0 1 2] [--panels mlp_noisy cnn_noisy] [--redraw]

Options are the studies' own (``add_arguments``), so the CLI and ``scripts/*.py`` cannot drift apart.
"""

from __future__ import annotations

import argparse


def _lottery(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from tqdm import tqdm

    from mnist1d_jax.studies import lottery

    if not args.redraw:
        cfg = lottery.config_from_args(args)
        with tqdm(total=len(cfg.rounds), desc="lottery rounds", unit="round") as bar:
            def progress(j, n, r, curves, timing):
                bar.n = j
                bar.set_postfix_str(f"s={cfg.sparsity(r):.2f} acc={curves['test_acc'][:, -1].max():.1f}")
                tqdm.write(lottery.describe_round(cfg, r, curves, timing))

            record = lottery.run(cfg, args.out, progress)
        for row in lottery.summarize(record):
            print(f"{row['quantity']}: paper {row['paper']} | ours {row['ours']}")
    for path in lottery.draw(args.out):
        print(f"wrote {path}")
    return 0


def _double_descent(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from tqdm import tqdm

    from mnist1d_jax.studies import double_descent as dd

    if not args.redraw:
        cfg = dd.config_from_args(args)
        with tqdm(total=dd.total_points(cfg), desc="(width, seed) points", unit="pt") as bar:
            def progress(panel, bucket, seconds):
                bar.update(len(bucket) * len(cfg.panel_seeds(panel)))
                bar.set_postfix_str(f"{panel} {bucket[0]}-{bucket[-1]}")

            record = dd.run(cfg, args.out, progress, compute=not args.assemble)
        for row in dd.summarize(record):
            print(f"{row['quantity']}: paper {row['paper']} | ours {row['ours']}")
    print(f"wrote {dd.draw(args.out)}")
    return 0


def register(subparsers) -> None:
    """Add the ``lottery`` and ``double-descent`` subcommands (``set_defaults(run=fn, parser=subparser)``)."""
    from mnist1d_jax.studies import double_descent, lottery

    p = subparsers.add_parser("lottery", help="lottery tickets: Fig. 3 a-g and the mask figure")
    lottery.add_arguments(p)
    p.set_defaults(run=_lottery, parser=p)
    p = subparsers.add_parser("double-descent", help="deep double descent (Fig. 4) and NLL vs MSE")
    double_descent.add_arguments(p)
    p.set_defaults(run=_double_descent, parser=p)
