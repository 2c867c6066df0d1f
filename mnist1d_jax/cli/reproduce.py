"""``mnist1d-jax reproduce``: run every study of the paper, then write REPORT.md (the paper's numbers beside ours).

With the default seeds the studies beyond the paper (``studies.BEYOND``: a learned schedule, epoch-wise double
descent, neural collapse, the optimiser benchmark) run after the paper's; ``--seeds paper`` runs the paper's
studies only.

    mnist1d-jax reproduce                    # every study, resumable
    mnist1d-jax reproduce --only tsne lottery
    mnist1d-jax reproduce --quick --out /tmp/quick   # tiny configs: checks the pipeline in minutes
    mnist1d-jax reproduce --seeds paper --out figures/paper_seeds   # the paper's own run counts (often one seed)
    mnist1d-jax reproduce --precision bf16 --out figures/bf16       # every study under bf16 matmuls
    mnist1d-jax reproduce --classes 0-7 --out figures/classes_0-7   # train on digits 0-7, hold out 8 and 9

Each study runs as its own process (``mnist1d-jax <study> --out DIR``, so each gets the device setup it wants)
in a process group of its own that dies with this one: Ctrl-C or a kill of ``reproduce`` stops the running
study too. A study's results are written when it ends and ``reproduce_state.json`` records which studies are
done, so running the command again resumes where it stopped (``--force`` reruns); a study stopped half-way
resumes from its own partial results. The matmul precision (``--precision``, default float32) is passed to
every study's command line and recorded per study: a study done under another setting is not done. The class
subset (``--classes``, default all ten digits; ``data.classes``) is handled the same way; under a subset the
studies that refuse one (``REFUSES_CLASS_SUBSET``) are skipped with their reason, not run.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mnist1d_jax.cli.common import DIE_WITH_PARENT, output_path
from mnist1d_jax.data.classes import ALL_CLASSES, classes_text, resolve_classes
from mnist1d_jax.report.report import write_report
from mnist1d_jax.report.runner import record_paths, study_module
from mnist1d_jax.runtime.precision import resolve
from mnist1d_jax.runtime.results import read_json, write_json
from mnist1d_jax.studies import BEYOND, STUDIES

SEED_MODES = ("default", "paper")


def planned(seeds: str = "default") -> tuple[str, ...]:
    """The studies a mode runs, in order: the paper's, then (default seeds only) those beyond it."""
    return STUDIES + (BEYOND if seeds == "default" else ())
STATE = "reproduce_state.json"


def study_command(name: str, out: Path, quick: bool, seeds: str = "default", precision: str | None = None,
                  classes=None) -> list[str]:
    """The command line of one study (the matmul precision and the class subset explicit:
    ``precision.resolve(precision)``, ``classes_text(classes)``, e.g. ``--classes 0-9`` for all ten)."""
    extra = ["--quick"] if quick else ["--paper-seeds"] if seeds == "paper" else []
    return [sys.executable, "-m", "mnist1d_jax.cli", "--precision", resolve(precision), "--classes",
            classes_text(classes), name.replace("_", "-"), "--out", str(out), *extra]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(out: Path, name: str) -> Path:
    return record_paths(out, study_module(name))[0]


def _mode_config(name: str, quick: bool, seeds: str):
    """The config a study runs with in this mode (what a record on disk must hold to count as done)."""
    module = study_module(name)
    config = module.QUICK if quick else module.Config()
    return config.replace(**module.PAPER_SEEDS) if seeds == "paper" and not quick and module.PAPER_SEEDS else config


def _record_precision(record: dict) -> str:
    """The matmul precision a record was made under (records from before the policy: float32)."""
    return ((record.get("provenance") or {}).get("devices") or {}).get("matmul_precision", "float32")


def _record_classes(record: dict) -> str:
    """The class subset a record was made under, as text (records from before the policy: all ten, "0-9")."""
    kept = (record.get("provenance") or {}).get("classes")
    try:
        return classes_text(ALL_CLASSES if kept is None else kept)
    except ValueError:
        return "unreadable"


def refused(name: str, classes=None) -> str | None:
    """Why study ``name`` refuses the class subset ``classes`` (None when it runs: all ten, or it honours one)."""
    why = getattr(study_module(name), "REFUSES_CLASS_SUBSET", None)
    return why if why and resolve_classes(classes) != ALL_CLASSES else None


def rebuild_state(out: Path, quick: bool, seeds: str, precision: str | None = None, classes=None) -> dict:
    """A state from the records on disk: every study whose record holds this mode's config and was made under this
    matmul precision and class subset counts as done."""
    precision, classes = resolve(precision), classes_text(classes)
    state = {}
    for name in planned(seeds):
        path = _record(out, name)
        try:
            record = read_json(path)
        except (OSError, ValueError):
            continue
        wanted = json.loads(json.dumps(dataclasses.asdict(_mode_config(name, quick, seeds))))
        if record.get("config") == wanted and _record_precision(record) == precision \
                and _record_classes(record) == classes:
            state[name] = {"quick": quick, "seeds": seeds, "precision": precision, "classes": classes,
                           "seconds": float(record.get("runtime_s", 0.0)),
                           "finished": record.get("provenance", {}).get("written"), "record_sha256": _sha256(path),
                           "rebuilt": True}
    return state


def load_state(out: Path, quick: bool, seeds: str, precision: str | None = None, classes=None) -> dict:
    """``reproduce_state.json``, or (missing or damaged: moved aside with a warning) one rebuilt from the records."""
    path = out / STATE
    if not path.exists():
        return {}
    try:
        state = read_json(path)
        if not isinstance(state, dict):
            raise ValueError("not a JSON object")
        return state
    except (OSError, ValueError) as err:
        damaged = path.with_name(path.name + ".damaged")
        path.replace(damaged)
        print(f"reproduce: warning: {path} could not be read ({err}); moved aside to {damaged.name} and rebuilt "
              "from the records on disk", file=sys.stderr, flush=True)
        return rebuild_state(out, quick, seeds, precision, classes)


def _done(state: dict, name: str, out: Path, quick: bool, seeds: str, precision: str | None = None,
          classes=None) -> bool:
    entry = state.get(name)
    record = _record(out, name)
    return (bool(entry) and not entry.get("failed") and entry.get("quick") == quick
            and entry.get("seeds", "default") == seeds and entry.get("precision", "float32") == resolve(precision)
            and entry.get("classes", "0-9") == classes_text(classes)
            and record.exists()
            and entry.get("record_sha256") == _sha256(record))


def run_study(name: str, out: Path, quick: bool, seeds: str = "default", precision: str | None = None,
              classes=None) -> float:
    """Run one study in its own process group; returns its wall-clock seconds."""
    start = time.perf_counter()
    command = study_command(name, out, quick, seeds, precision, classes)
    # Its own session (so Ctrl-C of a terminal reaches us, and we stop the whole group), and told to die with us
    # (``cli.common.die_with_parent``) so that not even a SIGKILL of reproduce leaves it running.
    child = subprocess.Popen(command, start_new_session=True, env={**os.environ, DIE_WITH_PARENT: "1"})
    try:
        code = child.wait()
    except BaseException:  # Ctrl-C or any error here: the study's whole process group goes with us
        try:
            os.killpg(child.pid, signal.SIGTERM)
            child.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(child.pid, signal.SIGKILL)
        raise
    if code != 0:
        raise subprocess.CalledProcessError(code, command)
    if not _record(out, name).exists():  # a study that "succeeds" without results is a failure
        raise subprocess.CalledProcessError(0, command, stderr=f"exited 0 but wrote no {name}.json")
    return time.perf_counter() - start


def reproduce(out: Path, only: list[str] | None = None, quick: bool = False, force: bool = False,
              seeds: str = "default", precision: str | None = None, classes=None) -> Path:
    """Run the selected studies (resuming), then write REPORT.md from every finished study's record.

    ``precision``: the matmul precision of every study (``precision.resolve``: default the process's, else
    ``$MNIST1D_JAX_PRECISION``, else float32). ``classes``: the digits every study trains on (text like "0-7"
    or digits; None: all ten; the command line's ``--classes`` and ``$MNIST1D_JAX_CLASSES`` are read by
    ``cli.app``); under a subset the studies that refuse one are skipped with their reason."""
    if seeds not in SEED_MODES:
        raise ValueError(f"seeds must be one of {SEED_MODES}, got {seeds!r}")
    precision, classes = resolve(precision), classes_text(classes)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / STATE
    state = load_state(out, quick, seeds, precision, classes)
    if only and seeds != "default" and set(only) & set(BEYOND):
        raise ValueError(f"--seeds {seeds} runs the paper's studies only; {sorted(set(only) & set(BEYOND))} are "
                         "beyond the paper (run them with the default seeds)")
    selected = [s for s in planned(seeds) if not only or s in only]
    failed = []
    for i, name in enumerate(selected, 1):
        header = f"[{i}/{len(selected)}] {name}"
        why = refused(name, classes)
        if why:
            print(f"{header}: skipped, it refuses a class subset (--classes {classes}): {why}", flush=True)
            continue
        if not force and _done(state, name, out, quick, seeds, precision, classes):
            print(f"{header}: done earlier ({state[name]['seconds']:.0f} s), skipped", flush=True)
            continue
        print(header, flush=True)
        try:
            seconds = run_study(name, out, quick, seeds, precision=precision, classes=classes)
        except subprocess.CalledProcessError as err:
            print(f"{name} FAILED ({err.stderr or f'exit code {err.returncode}'}); going on with the other studies",
                  flush=True)
            failed.append(name)
            state[name] = {"failed": True, "quick": quick, "seeds": seeds, "precision": precision, "classes": classes,
                           "seconds": 0.0,
                           "error": err.stderr or f"exit code {err.returncode}"}
            write_json(state_path, state)  # recorded as failed: never taken as done, and REPORT.md says so
            continue
        state[name] = {"quick": quick, "seeds": seeds, "precision": precision, "classes": classes, "seconds": seconds,
                       "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "record_sha256": _sha256(_record(out, name))}
        write_json(state_path, state)  # atomically, after every study
        elapsed = sum(entry["seconds"] for entry in state.values())
        print(f"{name} done in {seconds / 60:.1f} min (studies done: {elapsed / 60:.1f} min)", flush=True)
    report = write_report(out, state, quick, classes=classes)
    if failed:
        raise RuntimeError(f"studies failed: {', '.join(failed)} (see their output above); {report} covers the rest")
    return report


def register(subparsers) -> None:
    parser = subparsers.add_parser("reproduce", help="run every study of the paper and write figures/REPORT.md")

    parser.add_argument("--out", type=output_path, default=Path("figures"))
    parser.add_argument("--only", nargs="+", choices=list(STUDIES + BEYOND), help="run only these studies")
    parser.add_argument("--quick", action="store_true", help="tiny configs (minutes): checks the pipeline")
    parser.add_argument("--force", action="store_true", help="rerun studies that are already done")
    parser.add_argument("--seeds", choices=SEED_MODES, default="default",
                        help="default: our multi-seed configs (mean ± std); paper: the paper's own run counts")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: write REPORT.md from the results already in --out")
    parser.set_defaults(run=_cmd, parser=parser)


def _cmd(args, parser) -> int:
    precision = getattr(args, "precision", None)  # the global options, resolved by cli.app.main
    classes = getattr(args, "classes", None)
    if args.quick and args.seeds == "paper" and not args.report_only:
        parser.error("--quick and --seeds paper exclude each other: --quick runs its own tiny configs")
    if args.report_only:
        if not args.out.is_dir():
            parser.error(f"--out {args.out} is not a folder with results")
        path = write_report(args.out, load_state(args.out, args.quick, args.seeds, precision, classes), args.quick,
                            classes=classes)
    else:
        beyond = sorted(set(args.only or ()) & set(BEYOND))
        if beyond and args.seeds != "default":
            parser.error(f"--seeds {args.seeds} runs the paper's studies only; {', '.join(beyond)} are beyond the "
                         "paper: run them with the default seeds")
        path = reproduce(args.out, args.only, args.quick, args.force, args.seeds, precision, classes)
    print(f"wrote {path}")
    return 0
