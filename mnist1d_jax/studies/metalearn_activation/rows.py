"""The learned-activation study's rows of the report (the paper's numbers beside ours), read from its record
alone."""

from __future__ import annotations

import numpy as np

from mnist1d_jax.runtime.results import mean_std, seeds_text


def _explosion_why(grad_log10_norm) -> str | None:
    """Why an exact run's final iterate fell behind, read off its meta-gradient norms [S, T] (None if they
    never exceeded 1e10)."""
    grad = np.asarray(grad_log10_norm, float)
    if not np.nanmax(grad) > 10:
        return None
    first = sorted(int(np.argmax(g > 10)) for g in grad if (g > 10).any())
    when = f"{first[0]}" if first[0] == first[-1] else f"{first[0]}–{first[-1]}"
    return (f"the exact meta-gradient of the unrolled inner run explodes (norm > 1e10 from outer step {when} on, "
            f"up to 1e{np.nanmax(grad):.0f}) once the unroll turns chaotic; clipped to signs, the outer steps then "
            "degrade the iterate. The iterate with the lowest meta-objective (training losses only) is reported "
            "beside it")


def report_rows(record: dict) -> list[dict]:
    """Rows for figures/REPORT.md (paper's number beside ours)."""
    s = record["summary"]
    fmt = lambda k: mean_std(s[k]["per_seed"])  # noqa: E731
    best = s["best_baseline"]
    label = record.get("estimator_label", "exact unroll")
    what = (f"{record['g_architecture']} g"
            f"{'' if record.get('exact', True) else ', tabulated ' + str(record['config']['g_table'])}, "
            f"{seeds_text(len(s['learned']['per_seed']))}")
    final = {"quantity": f"test accuracy, learned activation, final iterate ({what}, meta-gradient by {label}, "
                         f"{record['completed_outer_steps']} outer steps)",
             "paper": "~68 (68.4 at step 300)", "ours": fmt("learned")}
    why = _explosion_why(record["curves"]["grad_log10_norm"])
    if s["margin_over_best_baseline"] < 5 and why:
        final["why"] = why
    rows = [
        final,
        {"quantity": f"best standard baseline ({best})", "paper": "ReLU ~59", "ours": fmt(best)},
        {"quantity": "margin of the final iterate over the best baseline (points)", "paper": "> 5",
         "ours": f"{s['margin_over_best_baseline']:.1f}"},
    ]
    if "learned_best" in s:
        steps = ", ".join(str(int(t)) for t in record["best_iterate"]["outer_step"])
        rows += [{"quantity": f"test accuracy, iterate with the lowest meta-objective (outer steps {steps}; "
                              "selected on training losses only)", "paper": "-", "ours": fmt("learned_best")},
                 {"quantity": "margin of that iterate over the best baseline (points)", "paper": "> 5",
                  "ours": f"{s['best_iterate_margin_over_best_baseline']:.1f}"}]
    faithful = record.get("paper_faithful")
    if faithful:
        fs = faithful["summary"]
        steps = ", ".join(str(int(t)) for t in faithful["best_iterate"]["outer_step"])
        row = {"quantity": f"test accuracy, final iterate, exact unroll (the paper's meta-gradient; "
                           f"{faithful['completed_outer_steps']} outer steps)",
               "paper": "~68 (68.4 at step 300)", "ours": mean_std(fs["learned"]["per_seed"])
               + f" (margin {fs['margin_over_best_baseline']:.1f})"}
        why = _explosion_why(faithful["curves"]["grad_log10_norm"])
        if fs["margin_over_best_baseline"] < 5 and why:
            row["why"] = why
        rows += [row, {"quantity": f"test accuracy, lowest-objective iterate, exact unroll (outer steps {steps})",
                       "paper": "-", "ours": mean_std(fs["learned_best"]["per_seed"])
                       + f" (margin {fs['best_iterate_margin_over_best_baseline']:.1f})"}]
    rows += [
        {"quantity": "piecewise-linear fit of the learned function (paper's / ours, of the final f)",
         "paper": "66.4",
         "ours": f"{fmt('pwl_paper')} / {fmt('pwl_own')}"},
        {"quantity": "run status", "paper": "301 outer steps", "ours": record.get("stopped_early") or "complete"},
        {"quantity": f"outer-loop wall time per outer step, all seeds together, {label}",
         "paper": "5.9 s (1→100→1, 1 run)", "ours": f"{record['runtime']['wall_per_outer_step_all_seeds_s']:.1f} s"},
    ]
    if faithful:
        rows.append({"quantity": "outer-loop wall time per outer step, all seeds together, exact unroll",
                     "paper": "5.9 s (1→100→1, 1 run)",
                     "ours": f"{faithful['runtime']['wall_per_outer_step_all_seeds_s']:.1f} s"})
    return rows
