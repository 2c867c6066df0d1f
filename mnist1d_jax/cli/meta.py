"""``mnist1d-jax metalearn-lr`` and ``mnist1d-jax metalearn-activation`` (EXPERIMENTS.md §5 and §6).

Every field of the study's config dataclass is an option (generated from the dataclass, defaults = the
paper's protocol); ``--quick`` runs a seconds-long smoke version. Results go to ``<out>.json`` first, then the
figure ``<out>.png`` is drawn from the JSON. The activation study shows a progress bar over outer steps (one
update per compiled chunk of outer steps, no per-step host sync) and resumes from ``--checkpoint``.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing

from mnist1d_jax.backend import use_cpu_cores

_SKIP = {"quick"}


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_options(parser: argparse.ArgumentParser, cls) -> None:
    """One option per dataclass field of `cls`, typed from its default."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(f"{cls.__name__} (defaults: the paper's protocol)")
    for field in dataclasses.fields(cls):
        if field.name in _SKIP:
            continue
        default, hint = field.default, str(hints[field.name])
        name = _option(field.name)
        if isinstance(default, bool):
            group.add_argument(name, action=argparse.BooleanOptionalAction, default=None)
        elif isinstance(default, tuple):
            elem = float if "float" in hint else int
            group.add_argument(name, type=elem, nargs="+", default=None, metavar="V")
        elif default is None or "None" in hint:
            group.add_argument(name, type=int, default=None, metavar="N")
        else:
            group.add_argument(name, type=type(default), default=None, metavar="V")


def config_from_args(args, cls):
    """The config: ``--quick`` starts from `cls.quick_config()`, explicit options override either."""
    changes = {}
    for field in dataclasses.fields(cls):
        value = getattr(args, field.name, None)
        if field.name not in _SKIP and value is not None:
            changes[field.name] = tuple(value) if isinstance(value, list) else value
    return cls.quick_config(**changes) if args.quick else cls(**changes)


def _progress(total: int, desc: str):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="outer step")

    def update(step: int) -> None:
        bar.update(step - bar.n)

    return bar, update


def _run_lr(args, parser) -> int:
    from mnist1d_jax.studies import metalearn_lr as study

    config = config_from_args(args, study.LRStudyConfig)
    bar, update = _progress(config.outer_steps, "metalearn-lr (all runs, one vmapped scan)")
    results = study.main(config, args.out, memory=not args.quick, progress=update)
    bar.close()
    conv = results["converged_lr"]
    print(f"converged learning rates: trials {conv['trials']}; sweep {conv['sweep_mean']:.3f} ± "
          f"{conv['sweep_std']:.3f}; {results['runtime']['wall_s_including_compile']:.1f} s wall incl. compile")
    print(f"wrote {args.out}.json and {args.out}.png")
    return 0


def _run_activation(args, parser) -> int:
    from mnist1d_jax.studies import metalearn_activation as study

    config = config_from_args(args, study.ActivationStudyConfig)
    bar, update = _progress(config.outer_steps, f"metalearn-activation ({len(config.seeds)} seeds vmapped)")
    results = study.main(config, args.out, checkpoint_path=args.checkpoint, progress=update,
                         transfer=not args.no_transfer)
    bar.close()
    for name, s in results["summary"].items():
        if isinstance(s, dict):
            print(f"  {name:10s} test accuracy {s['mean']:.1f} ± {s['std']:.1f}")
    if "transfer" in results:
        print(study.transfer_table(results["transfer"]))
    print(f"wrote {args.out}.json and {args.out}.png")
    return 0


def register(subparsers) -> None:
    from mnist1d_jax.studies.metalearn_activation import ActivationStudyConfig
    from mnist1d_jax.studies.metalearn_lr import LRStudyConfig

    p = subparsers.add_parser("metalearn-lr", help="metalearn the SGD learning rate (paper Fig. 5)")
    p.add_argument("-o", "--out", default="figures/metalearn_lr", help="output stem (.json and .png)")
    p.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    add_config_options(p, LRStudyConfig)
    p.set_defaults(run=_run_lr, parser=p)

    p = subparsers.add_parser("metalearn-activation", help="metalearn an activation function (paper Fig. 6)")
    p.add_argument("-o", "--out", default="figures/metalearn_activation", help="output stem (.json and .png)")
    p.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    p.add_argument("--checkpoint", default=None, help="resumable outer-loop checkpoint (.npz), saved per chunk")
    p.add_argument("--no-transfer", action="store_true", help="skip the CNN/MLP transfer check")
    add_config_options(p, ActivationStudyConfig)
    p.set_defaults(run=_run_activation, parser=p)


def main(command: str, argv=None) -> int:
    """Entry point of the thin scripts: ``main("metalearn-lr", sys.argv[1:])``."""
    use_cpu_cores()  # before any JAX work: one CPU device per core
    parser = argparse.ArgumentParser(prog=f"scripts/{command.replace('-', '_')}.py")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args([command, *(argv or [])])
    return args.run(args, args.parser)
