"""The dataset commands of the ``mnist1d-jax`` CLI: ``data`` (a dataset file), ``generate`` (a huge one,
streamed to ``.npy`` files) and ``figure`` (the dataset figure).

Their dataset options are the fields of `DatasetConfig`, one ``--option`` each, validated by the config itself.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from mnist1d_jax.cli.common import UsageError, output_path
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import DatasetSizeError, estimated_bytes, make_dataset, memory_bound
from mnist1d_jax.data.io import save_dataset
from mnist1d_jax.data.stream import DEFAULT_CHUNK, DTYPES, MANIFEST, StreamError, read_manifest, write_dataset
from mnist1d_jax.report.runner import check_output_file
from mnist1d_jax.runtime.results import OutputError
from mnist1d_jax.studies.dataset import write_dataset_figure

COMMANDS = ("data", "generate", "figure")


def register(sub) -> None:
    """Add the ``data``, ``generate`` and ``figure`` subcommands to the subparsers `sub`."""
    data = sub.add_parser("data", help="generate an MNIST-1D dataset and write it as a safe .npz file")
    _add_dataset_options(data)
    data.add_argument("-o", "--output", type=output_path, default=Path("mnist1d.npz"), help="the .npz file to write")
    data.set_defaults(run=_cmd_data, parser=data)

    generate = sub.add_parser("generate", help="generate a huge MNIST-1D dataset in chunks, streamed to "
                              "memory-mappable .npy files (x, y, x_test, y_test, t, manifest.json) in a folder")
    _add_dataset_options(generate)
    generate.add_argument("-o", "--out", type=output_path, default=Path("mnist1d-stream"), help="the folder to "
                          "write (default: mnist1d-stream); it also holds a temporary raw file of 8 bytes per value "
                          "while writing")
    generate.add_argument("--dtype", choices=DTYPES, default="float16", help="dtype of the inputs x and x_test "
                          "(default: float16)")
    generate.add_argument("--chunk", type=int, default=DEFAULT_CHUNK, metavar="N", help="examples per chunk of "
                          f"the write pass; bounds its memory (default: {DEFAULT_CHUNK})")
    generate.add_argument("--overwrite", action="store_true", help="replace a dataset already in the folder")
    generate.add_argument("--no-progress", action="store_true", help="no progress bars")
    generate.set_defaults(run=_cmd_generate, parser=generate)

    figure = sub.add_parser("figure", help="draw the templates and transformed examples (Figure 1 style)")
    figure.add_argument("--data", type=output_path, default=None, help="an .npz from `data` (default: the paper's "
                        "data)")
    figure.add_argument("-o", "--output", type=output_path, default=Path("figures/dataset.png"))
    figure.set_defaults(run=_cmd_figure, parser=figure)


def _add_dataset_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("dataset (defaults reproduce the paper's frozen data)")
    for field in dataclasses.fields(DatasetConfig):
        default, name = field.default, "--" + field.name.replace("_", "-")
        if field.name == "padding":
            group.add_argument(name, type=int, nargs=2, metavar=("LOW", "HIGH"), default=default)
        elif isinstance(default, bool):
            group.add_argument(name, action=argparse.BooleanOptionalAction, default=default)
        else:
            group.add_argument(name, type=type(default), default=default, metavar="N")


def _dataset_config(args, parser) -> DatasetConfig:
    """The `DatasetConfig` of the options `_add_dataset_options` added; a bad value is a one-line usage error."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(DatasetConfig)}
    values["padding"] = tuple(values["padding"])
    try:
        return DatasetConfig(**values)
    except ValueError as err:
        parser.error(str(err))


def _cmd_data(args, parser) -> int:
    config = _dataset_config(args, parser)
    if estimated_bytes(config) > memory_bound():
        try:
            make_dataset(config)  # raises the size error, before any work
        except DatasetSizeError as err:
            raise UsageError(str(err)) from None
    try:
        check_output_file(args.output)
    except OutputError as err:
        raise UsageError(str(err)) from None
    start = time.perf_counter()
    dataset = make_dataset(config)
    seconds = time.perf_counter() - start
    path = save_dataset(dataset, args.output)
    print(f"wrote {path}: {len(dataset.x):,} train + {len(dataset.x_test):,} test examples of length "
          f"{config.final_seq_length} (generated in {seconds:.2f} s)")
    return 0


def _cmd_generate(args, parser) -> int:
    config = _dataset_config(args, parser)
    try:  # every refusal (a complete dataset there, too little disk, a bad chunk) comes before any work
        out = write_dataset(config, args.out, dtype=args.dtype, chunk=args.chunk, overwrite=args.overwrite,
                            progress=not args.no_progress)
    except StreamError as err:
        raise UsageError(str(err)) from None
    manifest = read_manifest(out)
    seconds = manifest["seconds"]["total"]
    print(f"wrote {out}: {config.num_train:,} train + {config.num_test:,} test examples of length "
          f"{config.final_seq_length} in {manifest['dtype']}, in {seconds:.1f} s "
          f"({manifest['examples_per_second']:,.0f} examples/s)")
    for entry in manifest["files"].values():
        path = out / entry["file"]
        print(f"  {path}  {entry['dtype']} {tuple(entry['shape'])}  {path.stat().st_size / 1e6:,.1f} MB")
    print(f"  {out / MANIFEST}")
    return 0


def _cmd_figure(args, parser) -> int:
    if args.data is not None and not args.data.is_file():
        raise UsageError(f"--data {args.data} is not a dataset file")
    try:  # the figure and its JSON: both writable before any work
        check_output_file(args.output)
        check_output_file(Path(args.output).with_suffix(".json"))
    except OutputError as err:
        raise UsageError(str(err)) from None
    png, _ = write_dataset_figure(args.data, args.output)
    print(f"wrote {png} and {png.with_suffix('.json')}")
    return 0
