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
import os
import sys
import textwrap

from mnist1d_jax.cli import data_commands, reproduce, study_commands, train
from mnist1d_jax.cli.common import DIE_WITH_PARENT, PROG, OneLineParser, UsageError, command_name, die_with_parent
from mnist1d_jax.cli.options import add_global_options, classes_from_environment, use_compile_cache
from mnist1d_jax.cli.study_commands import study_config
from mnist1d_jax.data.classes import is_subset
from mnist1d_jax.runtime.backend import use_cpu_cores
from mnist1d_jax.runtime.precision import set_precision
from mnist1d_jax.runtime.results import OutputError
from mnist1d_jax.studies import BEYOND, EXTRA, STUDIES

# study_config and use_compile_cache now live beside the code they serve; they stay importable from here
__all__ = ["DESCRIPTION", "build_parser", "main", "study_config", "study_main", "use_compile_cache"]


DESCRIPTION = ("MNIST-1D in JAX: write the dataset, train the baselines, run each study of the paper and those "
               "beyond it, and reproduce them all with a report. `mnist1d-jax COMMAND --help` lists a command's "
               "options.")


def _grouped_commands(sub) -> str:
    """The commands by group (data, the paper's studies, beyond the paper, tools), a line each, for --help."""
    helps = {action.dest: action.help for action in sub._choices_actions}
    groups = {"data": list(data_commands.COMMANDS),
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

    data_commands.register(sub)
    train.register(sub)
    study_commands.register(sub)
    reproduce.register(sub)
    # The global options, accepted before the command or after it (``SUPPRESS``: a subcommand that is not given it
    # leaves the value parsed before the command alone).
    add_global_options(parser, None, None, False)
    parser.epilog = _grouped_commands(sub)
    sub._choices_actions.clear()  # listed by group in the epilog instead of one flat list
    for command in dict.fromkeys(sub.choices.values()):
        add_global_options(command, argparse.SUPPRESS, argparse.SUPPRESS, argparse.SUPPRESS)
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
        args.classes = classes_from_environment() if args.classes is None else args.classes
    except ValueError as err:
        parser.error(str(err))
    if is_subset(args.classes) and args.command in data_commands.COMMANDS:
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
