"""The ``mnist1d-jax`` command.

    mnist1d-jax data -o mnist1d.npz [--num-samples 50000 --shuffle-seq ...]   generate a dataset file
    mnist1d-jax figure [--data mnist1d.npz] [-o figures/dataset.png]          draw the dataset figure
    mnist1d-jax train --model cnn --seeds 10                                  baselines over seeds
    mnist1d-jax metalearn-lr | metalearn-activation                           the metalearning studies
    mnist1d-jax lottery | double-descent                                      masks and width sweeps
    mnist1d-jax reproduce [--quick] [--only STUDY ...]                        every study + REPORT.md

Every `DatasetConfig` field is an option of ``data`` (generated from the dataclass, so the CLI can never
drift from the library) and is validated the same way. Study subcommands register themselves in
`_SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import time
from pathlib import Path

from mnist1d_jax.backend import use_cpu_cores
from mnist1d_jax.data.config import DatasetConfig

# Modules that add a subcommand through ``register(subparsers)``; missing ones are skipped.
_SUBCOMMANDS = ("mnist1d_jax.cli.train", "mnist1d_jax.cli.meta", "mnist1d_jax.cli.sweeps", "mnist1d_jax.cli.reproduce")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per `DatasetConfig` field, defaulting to the paper's value."""
    group = parser.add_argument_group("dataset (defaults reproduce the paper's frozen data)")
    for field in dataclasses.fields(DatasetConfig):
        default = field.default
        if field.name == "padding":
            group.add_argument(_option(field.name), type=int, nargs=2, metavar=("LOW", "HIGH"), default=default)
        elif isinstance(default, bool):
            group.add_argument(_option(field.name), action=argparse.BooleanOptionalAction, default=default)
        else:
            group.add_argument(_option(field.name), type=type(default), default=default, metavar="N")
    group.set_defaults()


def config_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser) -> DatasetConfig:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(DatasetConfig)}
    values["padding"] = tuple(values["padding"])
    try:
        return DatasetConfig(**values)
    except ValueError as err:
        parser.error(str(err))


def _cmd_data(args, parser) -> int:
    from mnist1d_jax.data.generator import make_dataset
    from mnist1d_jax.data.io import save_dataset

    config = config_from_args(args, parser)
    start = time.perf_counter()
    dataset = make_dataset(config)
    seconds = time.perf_counter() - start
    path = save_dataset(dataset, args.output)
    print(
        f"wrote {path}: {len(dataset.x):,} train + {len(dataset.x_test):,} test examples of length "
        f"{config.final_seq_length} (generated in {seconds:.2f} s)"
    )
    return 0


def _cmd_figure(args, parser) -> int:
    from mnist1d_jax.studies.dataset import write_dataset_figure

    png, _ = write_dataset_figure(args.data, args.output)
    print(f"wrote {png} and {png.with_suffix('.json')}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnist1d-jax", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="generate an MNIST-1D dataset and write it as a safe .npz file")
    add_config_options(data)
    data.add_argument("-o", "--output", type=Path, default=Path("mnist1d.npz"), help="the .npz file to write")
    data.set_defaults(run=_cmd_data, parser=data)

    figure = sub.add_parser("figure", help="draw the templates and transformed examples (Figure 1 style)")
    figure.add_argument("--data", type=Path, default=None, help="an .npz from `data` (default: the paper's data)")
    figure.add_argument("-o", "--output", type=Path, default=Path("figures/dataset.png"))
    figure.set_defaults(run=_cmd_figure, parser=figure)

    for name in _SUBCOMMANDS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
            continue
        module.register(sub)
    return parser


# Subcommands that keep JAX's single CPU device: the lottery search runs its two criteria as two programs on
# two threads, which measured 40 % slower with one device per core (194 s vs 273 s for `lottery --quick`).
SINGLE_DEVICE_COMMANDS = frozenset({"lottery"})


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in SINGLE_DEVICE_COMMANDS:
        use_cpu_cores()  # before any JAX work: one CPU device per core, so many-run calls use every core
    return args.run(args, getattr(args, "parser", parser))


if __name__ == "__main__":
    sys.exit(main())
