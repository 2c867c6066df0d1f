"""``mnist1d-jax reproduce``: run every study of the paper, then write REPORT.md (the paper's numbers beside ours).

    mnist1d-jax reproduce                    # every study, resumable
    mnist1d-jax reproduce --only tsne lottery
    mnist1d-jax reproduce --quick --out /tmp/quick   # tiny configs: checks the pipeline in minutes
    mnist1d-jax reproduce --seeds paper --out figures/paper_seeds   # the paper's own run counts (often one seed)
    mnist1d-jax reproduce --precision bf16 --out figures/bf16       # every study under bf16 matmuls

Each study runs as its own process (``mnist1d-jax <study> --out DIR``, so each gets the device setup it wants)
in a process group of its own that dies with this one: Ctrl-C or a kill of ``reproduce`` stops the running
study too. A study's results are written when it ends and ``reproduce_state.json`` records which studies are
done, so running the command again resumes where it stopped (``--force`` reruns); a study stopped half-way
resumes from its own partial results. The matmul precision (``--precision``, default float32) is passed to
every study's command line and recorded per study: a study done under another setting is not done.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mnist1d_jax.cli.app import DIE_WITH_PARENT
from mnist1d_jax.precision import resolve
from mnist1d_jax.report.results import read_json, write_json
from mnist1d_jax.studies import STUDIES

SEED_MODES = ("default", "paper")
STATE = "reproduce_state.json"


def study_command(name: str, out: Path, quick: bool, seeds: str = "default", precision: str | None = None) -> list[str]:
    """The command line of one study (the matmul precision explicit: ``precision.resolve(precision)``)."""
    extra = ["--quick"] if quick else ["--paper-seeds"] if seeds == "paper" else []
    return [sys.executable, "-m", "mnist1d_jax.cli", "--precision", resolve(precision), name.replace("_", "-"),
            "--out", str(out), *extra]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(out: Path, name: str) -> Path:
    from mnist1d_jax.report.runner import record_paths, study_module

    return record_paths(out, study_module(name))[0]


def _mode_config(name: str, quick: bool, seeds: str):
    """The config a study runs with in this mode (what a record on disk must hold to count as done)."""
    from mnist1d_jax.report.runner import study_module

    module = study_module(name)
    config = module.QUICK if quick else module.Config()
    return config.replace(**module.PAPER_SEEDS) if seeds == "paper" and not quick and module.PAPER_SEEDS else config


def _record_precision(record: dict) -> str:
    """The matmul precision a record was made under (records from before the policy: float32)."""
    return ((record.get("provenance") or {}).get("devices") or {}).get("matmul_precision", "float32")


def rebuild_state(out: Path, quick: bool, seeds: str, precision: str | None = None) -> dict:
    """A state from the records on disk: every study whose record holds this mode's config and was made under this
    matmul precision counts as done."""
    import dataclasses
    import json

    precision = resolve(precision)
    state = {}
    for name in STUDIES:
        path = _record(out, name)
        try:
            record = read_json(path)
        except (OSError, ValueError):
            continue
        wanted = json.loads(json.dumps(dataclasses.asdict(_mode_config(name, quick, seeds))))
        if record.get("config") == wanted and _record_precision(record) == precision:
            state[name] = {"quick": quick, "seeds": seeds, "precision": precision,
                           "seconds": float(record.get("runtime_s", 0.0)),
                           "finished": record.get("provenance", {}).get("written"), "record_sha256": _sha256(path),
                           "rebuilt": True}
    return state


def load_state(out: Path, quick: bool, seeds: str, precision: str | None = None) -> dict:
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
        return rebuild_state(out, quick, seeds, precision)


def _done(state: dict, name: str, out: Path, quick: bool, seeds: str, precision: str | None = None) -> bool:
    entry = state.get(name)
    record = _record(out, name)
    return (bool(entry) and not entry.get("failed") and entry.get("quick") == quick
            and entry.get("seeds", "default") == seeds and entry.get("precision", "float32") == resolve(precision)
            and record.exists()
            and entry.get("record_sha256") == _sha256(record))


def run_study(name: str, out: Path, quick: bool, seeds: str = "default", precision: str | None = None) -> float:
    """Run one study in its own process group; returns its wall-clock seconds."""
    start = time.perf_counter()
    command = study_command(name, out, quick, seeds, precision)
    # Its own session (so Ctrl-C of a terminal reaches us, and we stop the whole group), and told to die with us
    # (``cli.app.die_with_parent``) so that not even a SIGKILL of reproduce leaves it running.
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
              seeds: str = "default", precision: str | None = None) -> Path:
    """Run the selected studies (resuming), then write REPORT.md from every finished study's record.

    ``precision``: the matmul precision of every study (``precision.resolve``: default the process's, else
    ``$MNIST1D_JAX_PRECISION``, else float32)."""
    from mnist1d_jax.report.report import write_report

    if seeds not in SEED_MODES:
        raise ValueError(f"seeds must be one of {SEED_MODES}, got {seeds!r}")
    precision = resolve(precision)
    out.mkdir(parents=True, exist_ok=True)
    state_path = out / STATE
    state = load_state(out, quick, seeds, precision)
    selected = [s for s in STUDIES if not only or s in only]
    failed = []
    for i, name in enumerate(selected, 1):
        header = f"[{i}/{len(selected)}] {name}"
        if not force and _done(state, name, out, quick, seeds, precision):
            print(f"{header}: done earlier ({state[name]['seconds']:.0f} s), skipped", flush=True)
            continue
        print(header, flush=True)
        try:
            seconds = run_study(name, out, quick, seeds, precision=precision)
        except subprocess.CalledProcessError as err:
            print(f"{name} FAILED ({err.stderr or f'exit code {err.returncode}'}); going on with the other studies",
                  flush=True)
            failed.append(name)
            state[name] = {"failed": True, "quick": quick, "seeds": seeds, "precision": precision, "seconds": 0.0,
                           "error": err.stderr or f"exit code {err.returncode}"}
            write_json(state_path, state)  # recorded as failed: never taken as done, and REPORT.md says so
            continue
        state[name] = {"quick": quick, "seeds": seeds, "precision": precision, "seconds": seconds,
                       "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "record_sha256": _sha256(_record(out, name))}
        write_json(state_path, state)  # atomically, after every study
        elapsed = sum(entry["seconds"] for entry in state.values())
        print(f"{name} done in {seconds / 60:.1f} min (studies done: {elapsed / 60:.1f} min)", flush=True)
    report = write_report(out, state, quick)
    if failed:
        raise RuntimeError(f"studies failed: {', '.join(failed)} (see their output above); {report} covers the rest")
    return report


def register(subparsers) -> None:
    parser = subparsers.add_parser("reproduce", help="run every study of the paper and write figures/REPORT.md")
    from mnist1d_jax.cli.app import _output_path

    parser.add_argument("--out", type=_output_path, default=Path("figures"))
    parser.add_argument("--only", nargs="+", choices=list(STUDIES), help="run only these studies")
    parser.add_argument("--quick", action="store_true", help="tiny configs (minutes): checks the pipeline")
    parser.add_argument("--force", action="store_true", help="rerun studies that are already done")
    parser.add_argument("--seeds", choices=SEED_MODES, default="default",
                        help="default: our multi-seed configs (mean ± std); paper: the paper's own run counts")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: write REPORT.md from the results already in --out")
    parser.set_defaults(run=_cmd, parser=parser)


def _cmd(args, parser) -> int:
    from mnist1d_jax.report.report import write_report

    precision = getattr(args, "precision", None)  # the global option, resolved by cli.app.main
    if args.quick and args.seeds == "paper" and not args.report_only:
        parser.error("--quick and --seeds paper exclude each other: --quick runs its own tiny configs")
    if args.report_only:
        if not args.out.is_dir():
            parser.error(f"--out {args.out} is not a folder with results")
        path = write_report(args.out, load_state(args.out, args.quick, args.seeds, precision), args.quick)
    else:
        path = reproduce(args.out, args.only, args.quick, args.force, args.seeds, precision)
    print(f"wrote {path}")
    return 0
