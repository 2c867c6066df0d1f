"""Speed of the metalearning studies against plain PyTorch (the `meta` section of ``scripts/speed.py``).

Rows: the learned-learning-rate study (both trials and the 8-init sweep, one vmapped call, compile included)
beside a plain PyTorch version of the two trials (``torch_reference.metalearn_lr``), best of two runs each;
and the learned-activation study's seconds per outer step for each g (1→100→1 and 1→100→100→1), exact and
tabulated, timed over a few outer steps after compiling (the original's 5.9 s per outer step for its 1→100→1 net is
quoted from the issue: its notebook is not run here).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("torch_reference", _HERE / "torch_reference.py")
torch_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(torch_reference)

ORIGINAL_ACTIVATION_S_PER_OUTER_STEP = 5.9  # the original notebook's 1→100→1 study on this machine (issue 4)


def _row(what, ours, reference, note=""):
    return {"what": what, "ours_s": ours, "reference_s": reference,
            "ratio": None if reference is None else reference / ours, "note": note}


def lr_rows(quick: bool) -> list[dict]:
    from mnist1d_jax.data.io import get_dataset
    from mnist1d_jax.report.runner import Context
    from mnist1d_jax.studies import metalearn_lr as study

    config = study.QUICK if quick else study.LRStudyConfig(memory=False)
    repeats = 1 if quick else 2  # best of 2 on both sides (each of ours compiles afresh: run() builds a new jit)
    results = [study.run(config, Context()) for _ in range(repeats)]
    result = results[-1]
    ours = min(r["runtime"]["wall_s_including_compile"] for r in results)
    conv = result["converged_lr"]
    note = (f"{result['runtime']['num_runs']} runs (2 trials + {len(config.sweep_init_seeds)}-init sweep); "
            f"ours converge to {conv['trials']['1.5']:.3f} / {conv['trials']['0.15']:.3f}")
    reference = None
    if torch_reference.available():
        data = get_dataset(study.DatasetConfig(num_samples=config.num_samples))
        refs = [torch_reference.metalearn_lr(data.x, data.y, inner_steps=config.inner_steps,
                                             outer_steps=config.outer_steps) for _ in range(repeats)]
        ref = refs[-1]
        reference = min(r["seconds"] for r in refs)
        note += f"; PyTorch's (2 trials only, its own init) to {ref['final_lrs'][0]:.3f} / {ref['final_lrs'][1]:.3f}"
    return [_row("learned SGD learning rate: 2 trials + sweep, compile included (reference: 2 trials)",
                 ours, reference, note)]


def activation_rows(quick: bool) -> list[dict]:
    from mnist1d_jax.studies import metalearn_activation as study

    rows = []
    for g_hidden in ((8,),) if quick else ((100,), (100, 100)):
        for table in (None, 257):
            base = study.QUICK if quick else study.ActivationStudyConfig()
            config = dataclasses.replace(base, g_hidden=g_hidden, g_table=table, seeds=(0,))
            seconds = study.time_outer_steps(config, 2 if quick else 3)
            net = "1→" + "→".join(map(str, g_hidden)) + "→1"
            kind = f"tabulated on {table} nodes" if table else "exact"
            rows.append(_row(f"learned activation, g {net} {kind}: seconds per outer step, one seed", seconds,
                             ORIGINAL_ACTIVATION_S_PER_OUTER_STEP if g_hidden == (100,) else None,
                             f"x300 outer steps = {300 * seconds / 60:.1f} min"
                             + ("; reference quoted from the issue, not run" if g_hidden == (100,) else "")))
    return rows


def run(quick: bool = False) -> list[dict]:
    return lr_rows(quick) + activation_rows(quick)
