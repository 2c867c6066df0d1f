"""``REPORT.md``: a runtime table, then one table per study with the paper's numbers beside ours, and the
explanation of every number that falls outside the paper's band (each study's ``report_rows``)."""

from __future__ import annotations

from pathlib import Path

from mnist1d_jax.data.classes import classes_text, held_out_classes, is_subset
from mnist1d_jax.report.runner import load_record, record_paths, study_module
from mnist1d_jax.runtime.results import atomic_write, provenance
from mnist1d_jax.studies import BEYOND, STUDIES

_MODES = {"default": "our multi-seed defaults", "paper": "the paper's own run counts (`--seeds paper`)"}


def devices_text(record: dict) -> str:
    """Where a record's study ran, from its provenance: e.g. ``cpu, 2 devices (cpu), 1 process``."""
    dev = (record.get("provenance") or {}).get("devices") or {}
    if not dev:
        return "not recorded"
    procs = dev.get("process_count", 1)
    return (f"{dev.get('backend')}, {dev.get('device_count')} device{'s' * (dev.get('device_count') != 1)} "
            f"({dev.get('device_kind')}), {procs} process{'es' * (procs != 1)}")


def seeds_text(record: dict | None) -> str:
    """The run counts a record's config names: ``3``, or ``tune_seeds 3, eval_seeds 10`` when there are several
    (every field ending in ``seeds``: a count or a list of seeds); ``1 (seed 0)`` for a one-seed study."""
    config = (record or {}).get("config") or {}
    counts = {k: (len(v) if isinstance(v, list | tuple) else v) for k, v in config.items()
              if k.endswith("seeds") and isinstance(v, int | list | tuple) and not isinstance(v, bool)}
    if list(counts) == ["seeds"]:
        return str(counts["seeds"])
    if counts:
        return ", ".join(f"{k} {v}" for k, v in counts.items())
    single = [f"{k} {v}" for k, v in config.items() if k.endswith("seed") and isinstance(v, int)]
    return f"1 ({', '.join(single)})" if single else "1"


def _load(module, out: Path) -> tuple[dict | None, Exception | None]:
    """The study's record read once for the whole report: ``(record, None)``, ``(None, error)`` for a file that
    cannot be read, ``(None, None)`` when there is none."""
    if not record_paths(out, module)[0].exists():
        return None, None
    try:
        return load_record(module, out), None
    except (OSError, ValueError) as err:
        return None, err


def write_report(out: Path, state: dict, quick: bool, classes=None) -> Path:
    """Write ``out/REPORT.md`` from the records in ``out`` and the runtimes in ``state`` (reproduce's);
    ``classes``: the class subset the studies ran under (``data.classes.resolve_classes``), said at the top."""
    out = Path(out)
    # the studies beyond the paper appear once they have run (a paper-seeds folder never has them)
    beyond = [name for name in BEYOND if name in state or record_paths(out, study_module(name))[0].exists()]
    modules = [study_module(name) for name in (*STUDIES, *beyond)]
    lines = ["# MNIST-1D in JAX: the paper reproduced", ""]
    if quick:
        lines += ["**Quick mode: tiny configs that check the pipeline; these numbers are not results.**", ""]
    subset = is_subset(classes)
    if subset:
        lines += [f"**Class subset: trained on digits {classes_text(classes)}, digits "
                  f"{classes_text(held_out_classes(classes))} held out; the paper's numbers are for all ten.**", ""]
    separately = [m.NAME for m in modules if m.NAME not in state and record_paths(out, m)[0].exists()]
    modes = sorted({entry.get("seeds", "default") for entry in state.values() if not entry.get("failed")})
    lines += [
        f"Generated on {provenance()['machine']}. "
        + (f"Studies run by `mnist1d-jax reproduce` with {' and '.join(_MODES[m] for m in modes)}"
           + (f"; {', '.join(separately)} by their own commands" if separately else "") + ". "
           if modes else "Each study ran by its own command. ")
        + "Runtimes are each study's own (from `reproduce`, else its JSON's `runtime_s`: other work on the "
        "machine at the time counts in it); each study's JSON beside its figure holds the config, seeds, "
        "versions and devices.",
        "",
        "| study | seeds | ours (min) | ran on | original code on this machine (min; the lottery's is its search "
        "alone) |",
        "|---|---|---:|---|---:|",
    ]
    loaded: dict[str, tuple] = {}  # each record read once, for the runtime table and its study section
    totals = {True: 0.0, False: 0.0}  # the paper's studies, the studies beyond it
    for m in modules:
        entry = state.get(m.NAME)
        record = loaded.setdefault(m.NAME, _load(m, out))[0]
        ours = "not run"
        if entry and entry.get("failed"):
            ours = "**failed**"
        elif entry or (record is not None and record.get("runtime_s") is not None):
            seconds = entry["seconds"] if entry else float(record["runtime_s"])
            totals[m.NAME in STUDIES] += seconds
            ours = f"{seconds / 60:.1f}" + ("" if entry else " (own command)")
        elif record is not None:
            ours = "not recorded"
        original = "n/a" if m.ORIGINAL_MINUTES is None else f"{m.ORIGINAL_MINUTES:g}"
        where = devices_text(record) if record is not None else ""
        seeds = seeds_text(record) if record is not None else (entry.get("seeds", "default") if entry else "")
        lines.append(f"| {m.TITLE} | {seeds} | {ours} | {where} | {original} |")
    original_total = sum(m.ORIGINAL_MINUTES or 0.0 for m in modules)
    lines.append(f"| **the paper's studies** | | **{totals[True] / 60:.1f}** | | **{original_total:.0f}** |")
    if beyond:
        lines.append(f"| **the studies beyond the paper** | | **{totals[False] / 60:.1f}** | | n/a |")
    for m in modules:
        if beyond and m.NAME == beyond[0]:
            lines += ["", "# Beyond the paper", "", "Studies the paper does not have (run by `reproduce` with the "
                      "default seeds). Their *paper* column holds a paper number only where one applies.", ""]
        lines += ["", f"## {m.TITLE}", ""]
        failed = state.get(m.NAME, {}).get("failed")
        if not record_paths(out, m)[0].exists():
            why = getattr(m, "REFUSES_CLASS_SUBSET", None) if subset else None
            lines.append("**Failed in the last run** (see its output); no record." if failed else
                         f"Not run: it refuses a class subset ({why})." if why else "Not run yet.")
            continue
        if failed:
            lines += ["**The last run of this study failed; the numbers below are from an earlier run.**", ""]
        png = f"{m.NAME}.png"
        if (out / png).exists():
            lines += [f"![{m.NAME}]({png})", ""]
        try:
            record, error = loaded.get(m.NAME) or _load(m, out)
            if error is not None:
                raise error
            rows = m.report_rows(record)
        except (KeyError, TypeError, ValueError, IndexError) as err:  # a record of another version, or damaged
            lines.append(f"**{m.NAME}.json could not be summarised ({type(err).__name__}: {err}); rerun the study.**")
            continue
        lines += ["| quantity | paper | ours |", "|---|---|---|"]
        lines += [f"| {row['quantity']} | {row['paper']} | {row['ours']} |" for row in rows]
        notes = [f"- *{row['quantity']}*: {row['why']}." for row in rows if row.get("why")]
        if notes:
            lines += ["", "Where ours differs from the paper's:", "", *notes]
    text = "\n".join(lines) + "\n"
    return atomic_write(out / "REPORT.md", lambda f: f.write(text.encode()))


__all__ = ["devices_text", "write_report"]
