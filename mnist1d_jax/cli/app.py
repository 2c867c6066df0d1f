"""The ``mnist1d-jax`` command.

    mnist1d-jax data -o mnist1d.npz [--num-samples 50000 --shuffle-seq ...]   generate a dataset file
    mnist1d-jax generate -o DIR [--num-samples 40000000 --dtype float16 ...] a huge one, streamed to .npy files
    mnist1d-jax figure [--data mnist1d.npz] [-o figures/dataset.png]          draw the dataset figure
    mnist1d-jax train --model cnn --seeds 10                                  baselines over seeds
    mnist1d-jax <study> [--quick] [--out figures] [options]                   one study of the paper
    mnist1d-jax reproduce [--quick] [--only STUDY ...]                        every study + REPORT.md

Every option of ``data`` and of each study is a field of its config dataclass (generated from it, so the
command line cannot drift from the library) and is validated the same way. Errors are one line on stderr:
exit status 2 for bad input (found before any work), 1 for a run that failed, 130 for Ctrl-C; ``--debug``
shows the traceback instead.

Every command takes ``--precision {float32,tf32,bf16}`` (before or after its name; default
``$MNIST1D_JAX_PRECISION``, else float32): the matmul precision policy of ``precision.py``, set for the whole
process before anything runs (``reproduce`` hands it to each study it starts). Likewise ``--classes 0-7``
(default ``$MNIST1D_JAX_CLASSES``, read here and nowhere else in the package, else all ten digits): train on
these digits and hold out the rest (``data.classes``), handed explicitly to the study runner; a study that
cannot run on a subset refuses it in one line (exit status 2).

Every command compiles through JAX's persistent compilation cache (``compile_cache.py``: ``xla/`` beside the
dataset cache, or ``$MNIST1D_JAX_COMPILE_CACHE``), so a rerun loads its programs instead of compiling them;
``--no-compile-cache`` (before or after the command's name) or ``MNIST1D_JAX_COMPILE_CACHE=off`` turns it off,
for the command and every study it starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import textwrap
import time
import warnings
from pathlib import Path

from mnist1d_jax.cli import reproduce, train
from mnist1d_jax.cli.builder import add_config_options, config_from_args
from mnist1d_jax.cli.common import (
    DIE_WITH_PARENT,
    PROG,
    OneLineParser,
    UsageError,
    command_name,
    die_with_parent,
    output_path,
)
from mnist1d_jax.data.classes import ALL_CLASSES, is_subset, parse_classes
from mnist1d_jax.data.classes import ENV_VAR as CLASSES_ENV
from mnist1d_jax.data.config import DatasetConfig
from mnist1d_jax.data.generator import DatasetSizeError, estimated_bytes, make_dataset, memory_bound
from mnist1d_jax.data.io import save_dataset
from mnist1d_jax.data.stream import DEFAULT_CHUNK, DTYPES, MANIFEST, StreamError, read_manifest, write_dataset
from mnist1d_jax.report import runner
from mnist1d_jax.report.runner import check_output_file, study_module
from mnist1d_jax.runtime.backend import use_cpu_cores
from mnist1d_jax.runtime.compile_cache import ENV_VAR as COMPILE_CACHE_ENV
from mnist1d_jax.runtime.compile_cache import CompileCacheWarning, enable_compile_cache
from mnist1d_jax.runtime.precision import ENV_VAR as PRECISION_ENV
from mnist1d_jax.runtime.precision import NAMES as PRECISIONS
from mnist1d_jax.runtime.precision import set_precision
from mnist1d_jax.runtime.results import OutputError
from mnist1d_jax.studies import ALL, BEYOND, EXTRA, STUDIES
from mnist1d_jax.studies.dataset import write_dataset_figure


# --------------------------------------------------------------------------------------------------------------
# data and figure
# --------------------------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------------------------
# the studies
# --------------------------------------------------------------------------------------------------------------
def _add_study(sub, name: str) -> None:
    module = study_module(name)
    p = sub.add_parser(command_name(name), help=module.TITLE, description=(module.__doc__ or "").split("\n\n")[0])
    p.add_argument("--out", type=output_path, default=Path("figures"), help="folder for the figures, their JSON "
                   "and the study's resume state (default: figures)")
    p.add_argument("--quick", action="store_true", help="a tiny config that runs every stage in seconds (a smoke "
                   "test, not a result)")
    p.add_argument("--paper-seeds", action="store_true", help="the paper's own run counts (often one seed)")
    p.add_argument("--redraw", action="store_true", help="only draw the figures again from the saved record")
    p.add_argument("--fresh", action="store_true", help="ignore the partial results of an earlier run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_config_options(p, module.Config)
    p.set_defaults(run=_cmd_study, study=name, parser=p)


def study_config(name: str, args: argparse.Namespace, parser: argparse.ArgumentParser | None = None):
    """The study's config from its command line: the default, ``QUICK`` or the paper's seeds, then options."""
    module = study_module(name)
    base = module.QUICK if args.quick else module.Config()
    if getattr(args, "paper_seeds", False) and module.PAPER_SEEDS:
        base = dataclasses.replace(base, **module.PAPER_SEEDS)
    return config_from_args(args, module.Config, base, parser)


def _cmd_study(args, parser) -> int:
    module = runner.study_module(args.study)
    if args.redraw:
        if not runner.record_paths(args.out, module)[0].exists():
            raise UsageError(f"{args.out} holds no {module.NAME}.json to redraw from")
        for path in runner.redraw(module, args.out):
            print(f"wrote {path}")
        return 0
    config = study_config(args.study, args, parser)
    try:
        runner.check_classes(module, args.classes)
        runner.check_output_folder(args.out)
        runner.check_record_files(args.out, module)
    except (runner.OutputError, ValueError) as err:
        raise UsageError(str(err)) from None
    record = runner.run_study(module, config, args.out, classes=args.classes, resume=not args.fresh,
                              progress=not args.no_progress)
    for row in module.report_rows(record):
        print(f"{row['quantity']}: paper {row['paper']} | ours {row['ours']}")
    print(f"wrote {args.out / (module.NAME + '.json')} and its figures in {record['runtime_s']:.1f} s")
    return 0


# --------------------------------------------------------------------------------------------------------------
# the parser and main
# --------------------------------------------------------------------------------------------------------------
def _add_precision_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--precision", choices=PRECISIONS, default=default,
                        help="matmul precision of the models' products: float32 (full float32 on every backend), "
                        "tf32 or bf16 (operands rounded to TensorFloat-32 / bfloat16, emulated on a CPU); default: "
                        f"${PRECISION_ENV}, else float32")


def _classes_type(text: str) -> tuple[int, ...]:
    try:
        return parse_classes(text, source="")
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _classes_from_environment() -> tuple[int, ...]:
    """The default of ``--classes``: ``$MNIST1D_JAX_CLASSES`` if set, else all ten digits (a bad value is a
    one-line ``ValueError``)."""
    text = os.environ.get(CLASSES_ENV, "").strip()
    return parse_classes(text, f"${CLASSES_ENV}") if text else ALL_CLASSES


def _add_classes_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--classes", type=_classes_type, default=default, metavar="DIGITS",
                        help="train on these digits, hold out the rest (e.g. 0-7, 0,2,4 or 0-3,8; labels stay the "
                        "digits, models keep ten outputs; held-out test digits give an out-of-distribution score); "
                        f"default: ${CLASSES_ENV}, else all ten")


def _add_compile_cache_option(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument("--no-compile-cache", action="store_true", default=default,
                        help=f"compile without JAX's persistent compilation cache (default: on, in "
                        f"${COMPILE_CACHE_ENV} or xla/ beside the dataset cache)")


def use_compile_cache(off: bool) -> None:
    """The command's compilation cache: on unless `off` (then off for the studies it starts too, through the
    environment they inherit); a folder that cannot be used is one line on stderr, not a failure."""
    if off:
        os.environ[COMPILE_CACHE_ENV] = "off"
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CompileCacheWarning)
        enable_compile_cache()
    for w in caught:
        print(f"{PROG}: warning: {w.message}", file=sys.stderr)


DESCRIPTION = ("MNIST-1D in JAX: write the dataset, train the baselines, run each study of the paper and those "
               "beyond it, and reproduce them all with a report. `mnist1d-jax COMMAND --help` lists a command's "
               "options.")


def _grouped_commands(sub) -> str:
    """The commands by group (data, the paper's studies, beyond the paper, tools), a line each, for --help."""
    helps = {action.dest: action.help for action in sub._choices_actions}
    groups = {"data": ["data", "generate", "figure"],
              "the paper's studies": [command_name(n) for n in STUDIES],
              "beyond the paper": [command_name(n) for n in BEYOND],
              "tools": ["train", "reproduce", *(command_name(n) for n in EXTRA)]}
    listed = {name for names in groups.values() for name in names}
    groups["tools"] += [name for name in helps if name not in listed]  # a command added later is never hidden
    width = max(len(name) for name in helps) + 4
    lines = []
    for title, names in groups.items():
        lines += ["", f"{title}:"]
        for name in names:
            if name in helps:
                text = helps[name].removesuffix(" (beyond the paper)")
                lines += textwrap.wrap(text, 100, initial_indent=f"  {name:<{width - 2}}",
                                       subsequent_indent=" " * width)
    return "\n".join(lines[1:])


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog=PROG, description=textwrap.fill(DESCRIPTION, 100),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="one of the commands below")

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

    train.register(sub)
    for name in ALL:
        _add_study(sub, name)
    reproduce.register(sub)
    # One global option, accepted before the command or after it (``SUPPRESS``: a subcommand that is not given it
    # leaves the value parsed before the command alone).
    _add_precision_option(parser, None)
    _add_classes_option(parser, None)
    _add_compile_cache_option(parser, False)
    parser.epilog = _grouped_commands(sub)
    sub._choices_actions.clear()  # listed by group in the epilog instead of one flat list
    for command in dict.fromkeys(sub.choices.values()):
        _add_precision_option(command, argparse.SUPPRESS)
        _add_classes_option(command, argparse.SUPPRESS)
        _add_compile_cache_option(command, argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    if os.environ.pop(DIE_WITH_PARENT, None):
        die_with_parent()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    use_cpu_cores()  # before any JAX work: one CPU device per core, so many-run calls use every core
    use_compile_cache(args.no_compile_cache)  # before anything is compiled
    try:  # process-wide, before anything is traced; a bad $MNIST1D_JAX_PRECISION / _CLASSES is bad input
        args.precision = set_precision(args.precision)
        args.classes = _classes_from_environment() if args.classes is None else args.classes
    except ValueError as err:
        parser.error(str(err))
    if is_subset(args.classes) and args.command in ("data", "generate", "figure"):
        parser.error(f"--classes selects the digits a model trains on; `{args.command}` always covers all ten")
    command = f"{PROG} {args.command}"
    try:
        return args.run(args, getattr(args, "parser", parser))
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"\n{command}: interrupted (finished work is kept; run again to resume)", file=sys.stderr)
        return 130
    except (UsageError, OutputError) as err:
        if args.debug:
            raise
        print(f"{command}: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001  (the one place that turns any failure into one line)
        if args.debug:
            raise
        print(f"{command}: error: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


def study_main(name: str, argv: list[str] | None = None) -> int:
    """What ``scripts/<study>.py`` runs: ``mnist1d-jax <study> ARGS``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    return main([command_name(name), *argv])


if __name__ == "__main__":
    sys.exit(main())
