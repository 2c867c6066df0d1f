"""The per-study commands of the ``mnist1d-jax`` CLI: ``mnist1d-jax <study> [--quick] [--out figures] ...``.

Each study's options are the fields of its ``Config`` dataclass (`add_config_options`), so the command line
cannot drift from the library; the runner (`mnist1d_jax.report.runner`) runs, resumes and redraws the study.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from mnist1d_jax.cli.builder import add_config_options, config_from_args
from mnist1d_jax.cli.common import UsageError, command_name, output_path
from mnist1d_jax.report import runner
from mnist1d_jax.report.runner import study_module
from mnist1d_jax.studies import ALL


def register(sub) -> None:
    """Add one subcommand per study (`mnist1d_jax.studies.ALL`) to the subparsers `sub`."""
    for name in ALL:
        _add_study(sub, name)


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
