"""Reproduce the whole paper: run every study, then write figures/REPORT.md (paper's numbers beside ours).

    mnist1d-jax reproduce                    # every study, resumable
    mnist1d-jax reproduce --only tsne lottery
    mnist1d-jax reproduce --quick --out /tmp/quick   # tiny configs: checks the pipeline in minutes
    mnist1d-jax reproduce --seeds paper --out figures/paper_seeds   # the paper's own run counts (often one seed)

Each study runs as its own process (``python -m mnist1d_jax.studies.<name> --out DIR``), so a crash or
Ctrl-C in one study loses nothing that finished: a study's results are written atomically when it ends, and
``reproduce_state.json`` records which studies are done. Run the command again and it resumes where it
stopped (``--force`` reruns).
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import importlib.util
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mnist1d_jax.report.results import atomic_write, provenance, read_json, write_json


@dataclass(frozen=True)
class Study:
    """One paper study: the module that runs it, the JSON it writes, and the original code's runtime here."""

    name: str
    title: str
    module: str
    record: str
    original_minutes: float | None = None
    cli: tuple[str, ...] = ()  # run as ``python -m mnist1d_jax.cli <cli...> --out DIR/<record stem>`` instead
    # What ``reproduce --quick`` passes: the smallest config that still runs every stage of the study. For the
    # lottery and double descent, ``--quick`` alone is a reduced *study* (minutes); ``--smoke`` makes it tiny.
    quick_args: tuple[str, ...] = ("--quick",)
    script: str | None = None  # run ``python scripts/<script> --out DIR`` (from the repository checkout) instead
    # What ``--seeds paper`` adds: the paper's own run counts (EXPERIMENTS.md §10), where our default runs more
    # seeds to give a mean ± std. Empty where the default already is the paper's count.
    paper_args: tuple[str, ...] = ()
    args: tuple[str, ...] = ()  # passed in every mode

    def command(self, out: Path, quick: bool, seeds: str = "default") -> list[str]:
        """The study's command line; ``{out}`` in its arguments stands for the output folder."""
        if self.script:
            argv = [str(SCRIPTS / self.script), "--out", str(out)]
        elif self.cli:
            argv = ["-m", "mnist1d_jax.cli", *self.cli, "--out", str(out / Path(self.record).stem)]
        else:
            argv = ["-m", self.module, "--out", str(out)]
        extra = self.quick_args if quick else self.paper_args if seeds == "paper" else ()
        return [sys.executable, *(a.replace("{out}", str(out)) for a in (*argv, *self.args, *extra))]


STUDIES = (
    Study("dataset", "The dataset (Fig. 1) and its exactness", "mnist1d_jax.studies.dataset", "dataset.json", 0.1),
    # --resume: a killed run keeps the (model, dataset) cells it finished (only cells of the same config).
    Study("benchmarks", "Table 1 and the benchmark figure (Fig. 2), improved baselines",
          "mnist1d_jax.studies.benchmarks", "benchmarks.json", 4.0, script="benchmarks.py",
          args=("--resume",), paper_args=("--seeds", "1", "--improved-seeds", "1")),
    Study("lottery", "Lottery tickets (Fig. 3 a-g, mask figure)", "mnist1d_jax.studies.lottery", "lottery.json", 40.0,
          quick_args=("--quick", "--smoke")),  # default = the paper's 2 trials
    Study("double_descent", "Deep double descent (Fig. 4)", "mnist1d_jax.studies.double_descent",
          "double_descent.json", 46.0, quick_args=("--quick", "--smoke"), paper_args=("--seeds", "0")),
    Study("metalearn_lr", "Metalearning the learning rate (Fig. 5)", "mnist1d_jax.studies.metalearn_lr",
          "metalearn_lr.json", 0.25, cli=("metalearn-lr",)),  # default = the paper's 2 trials (+ 8 more inits)
    Study("metalearn_activation", "Metalearning an activation function (Fig. 6)",
          "mnist1d_jax.studies.metalearn_activation", "metalearn_activation.json", 30.0,
          # g tabulated on 257 nodes (tested against the exact path): the exact g on all 12,800 hidden units
          # costs ~11 s per outer step per seed here, hours for the study; the figure says which was used.
          # The checkpoint lives beside the results, so runs into different folders never share one.
          cli=("metalearn-activation", "--g-table", "257", "--checkpoint", "{out}/metalearn_activation_state.npz"),
          paper_args=("--seeds", "0", "--transfer-seeds", "1")),
    Study("pooling", "Pooling vs training-set size (Fig. 7)", "mnist1d_jax.studies.pooling", "pooling.json", 15.0,
          paper_args=("--seeds", "1")),
    Study("ssl", "Self-supervised learning (ICML figure)", "mnist1d_jax.studies.ssl", "ssl.json", 5.0,
          paper_args=("--seeds", "1")),
    Study("tsne", "t-SNE in input space (Fig. 10)", "mnist1d_jax.studies.tsne", "tsne.json", 3.5),
    Study("classwise_errors", "Human vs CNN class-wise errors (Fig. 8)", "mnist1d_jax.studies.classwise_errors",
          "classwise_errors.json", 1.0, paper_args=("--seeds", "1")),
)
SEED_MODES = ("default", "paper")
STATE = "reproduce_state.json"
# The figure scripts live beside the package in the repository (the package is installed from a checkout).
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def available(study: Study) -> bool:
    if study.script and not (SCRIPTS / study.script).exists():
        return False
    return importlib.util.find_spec(study.module) is not None


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _done(state: dict, study: Study, out: Path, quick: bool, seeds: str = "default") -> bool:
    entry = state.get(study.name)
    record = out / study.record
    return (bool(entry) and entry["quick"] == quick and entry.get("seeds", "default") == seeds and record.exists()
            and entry["record_sha256"] == _sha256(record))


def run_study(study: Study, out: Path, quick: bool, seeds: str = "default") -> float:
    """Run one study in its own process; returns its wall-clock seconds."""
    start = time.perf_counter()
    command = study.command(out, quick, seeds)
    subprocess.run(command, check=True)
    if not (out / study.record).exists():  # a study that "succeeds" without results is a failure
        raise subprocess.CalledProcessError(0, command, stderr=f"exited 0 but wrote no {study.record}")
    return time.perf_counter() - start


def reproduce(out: Path, only: list[str] | None = None, quick: bool = False, force: bool = False,
              seeds: str = "default") -> Path:
    """Run the selected studies (resuming), then write REPORT.md from every finished study's results.

    seeds: "default" (our multi-seed configs, mean ± std) or "paper" (the paper's own run counts).
    """
    if seeds not in SEED_MODES:
        raise ValueError(f"seeds must be one of {SEED_MODES}, got {seeds!r}")
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / STATE
    state = read_json(state_path) if state_path.exists() else {}
    selected = [s for s in STUDIES if not only or s.name in only]
    failed = []
    for i, study in enumerate(selected, 1):
        header = f"[{i}/{len(selected)}] {study.name}: {study.title}"
        if not available(study):
            print(f"{header}: not implemented yet, skipped", flush=True)
            continue
        if not force and _done(state, study, out, quick, seeds):
            print(f"{header}: done earlier ({state[study.name]['seconds']:.0f} s), skipped", flush=True)
            continue
        print(header, flush=True)
        try:
            seconds = run_study(study, out, quick, seeds)
        except KeyboardInterrupt:
            print(f"\ninterrupted during {study.name}; finished studies are kept, run again to resume", flush=True)
            raise
        except subprocess.CalledProcessError as err:
            why = err.stderr or f"exit code {err.returncode}"
            print(f"{study.name} FAILED ({why}); going on with the other studies", flush=True)
            failed.append(study.name)
            continue
        state[study.name] = {
            "quick": quick,
            "seeds": seeds,
            "seconds": seconds,
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "record_sha256": _sha256(out / study.record),
        }
        write_json(state_path, state)  # atomically, after every study
        elapsed = sum(entry["seconds"] for entry in state.values())
        print(f"{study.name} done in {seconds / 60:.1f} min (studies done: {elapsed / 60:.1f} min)", flush=True)
    report = write_report(out, state, quick)
    if failed:
        raise RuntimeError(f"studies failed: {', '.join(failed)} (see their output above); {report} covers the rest")
    return report


def _study_rows(study: Study, out: Path) -> list[dict]:
    module = importlib.import_module(study.module)
    rows = getattr(module, "report_rows", None) or getattr(module, "summarize", None)
    if rows is None:
        raise TypeError(f"{study.module} has no report_rows(record) or summarize(record)")
    return rows(read_json(out / study.record))


def write_report(out: Path, state: dict, quick: bool) -> Path:
    """figures/REPORT.md: a runtime table, then one table per study (paper's number beside ours)."""
    lines = ["# MNIST-1D in JAX: the paper reproduced", ""]
    if quick:
        lines += ["**Quick mode: tiny configs that check the pipeline; these numbers are not results.**", ""]
    total = sum(entry["seconds"] for entry in state.values())
    separately = [s.name for s in STUDIES if s.name not in state and (out / s.record).exists()]
    modes = sorted({entry.get("seeds", "default") for entry in state.values()})
    mode_text = {"default": "our multi-seed defaults", "paper": "the paper's own run counts (`--seeds paper`)"}
    lines += [
        f"Generated on {provenance()['machine']}. Studies run by `mnist1d-jax reproduce`"
        + (f" with {' and '.join(mode_text[m] for m in modes)}" if modes else "")
        + f" took {total / 60:.1f} min in all"
        + (f"; {', '.join(separately)} ran separately (their scripts), so their runtimes are not in"
           " this table but in their JSON" if separately else "")
        + ". Each study's JSON beside its figure holds the config, seeds, versions and completeness.",
        "",
        "| study | seeds | ours (min) | original code on this machine (min; the lottery's is its search alone) |",
        "|---|---|---:|---:|",
    ]
    for study in STUDIES:
        entry = state.get(study.name)
        ours = "ran separately" if study.name in separately else "not run"
        if entry:
            ours = f"{entry['seconds'] / 60:.1f}"
        original = "n/a" if study.original_minutes is None else f"{study.original_minutes:g}"
        mode = entry.get("seeds", "default") if entry else ""
        lines.append(f"| {study.title} | {mode} | {ours} | {original} |")
    original_total = sum(s.original_minutes or 0.0 for s in STUDIES)
    lines.append(f"| **all studies** | | **{total / 60:.1f}**"
                 + (" (studies run separately not included)" if separately else "")
                 + f" | **{original_total:.0f}** |")
    for study in STUDIES:
        lines += ["", f"## {study.title}", ""]
        if not (out / study.record).exists():
            lines.append("Not run yet." if available(study) else "Not implemented yet.")
            continue
        png = Path(study.record).with_suffix(".png")
        if (out / png).exists():
            lines += [f"![{study.name}]({png.as_posix()})", ""]
        try:
            rows = _study_rows(study, out)
        except (KeyError, TypeError, ValueError) as err:  # a record from another version or a partial run
            lines.append(f"**{study.record} could not be summarised ({type(err).__name__}: {err}); rerun the study.**")
            continue
        lines += ["| quantity | paper | ours |", "|---|---|---|"]
        for row in rows:
            lines.append(f"| {row['quantity']} | {row['paper']} | {row['ours']} |")
        # A row whose number falls outside the paper's band carries its explanation (computed from the record).
        notes = [f"- *{row['quantity']}*: {row['why']}." for row in rows if row.get("why")]
        if notes:
            lines += ["", "Where ours differs from the paper's:", "", *notes]
    text = "\n".join(lines) + "\n"
    return atomic_write(out / "REPORT.md", lambda f: f.write(text.encode()))


def register(subparsers) -> None:
    parser = subparsers.add_parser("reproduce", help="run every study of the paper and write figures/REPORT.md")
    parser.add_argument("--out", type=Path, default=Path("figures"))
    parser.add_argument("--only", nargs="+", choices=[s.name for s in STUDIES], help="run only these studies")
    parser.add_argument("--quick", action="store_true", help="tiny configs (minutes): checks the pipeline")
    parser.add_argument("--force", action="store_true", help="rerun studies that are already done")
    parser.add_argument("--seeds", choices=SEED_MODES, default="default",
                        help="default: our multi-seed configs (mean ± std); paper: the paper's own run counts")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: write REPORT.md from the results already in --out")
    parser.set_defaults(run=_cmd, parser=parser)


def _cmd(args, parser) -> int:
    if args.report_only:
        state_path = args.out / STATE
        state = read_json(state_path) if state_path.exists() else {}
        path = write_report(args.out, state, args.quick)
    else:
        path = reproduce(args.out, args.only, args.quick, args.force, args.seeds)
    print(f"wrote {path}")
    return 0
