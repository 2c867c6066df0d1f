"""The few-shot study's rows for the report, from its record."""

from __future__ import annotations

from mnist1d_jax.studies.few_shot.config import FAMILIES, LABELS


def _norms(a: dict, which: str) -> str:
    return f"{a[which + '_norm_median']:.3g} ({a[which + '_norm_max']:.3g})"


def report_rows(record: dict) -> list[dict]:
    rows = []
    c = record["config"]
    for family, what in FAMILIES.items():
        for k in c["shots"]:
            for method, per_k in record["results"].items():
                r = per_k[str(k)]
                how = (f"step {r['lr']:g}, pre-training step {r['step']}" if method == "pretrain"
                       else f"outer step {r['step']}")
                rows.append({"quantity": f"{c['n_way']}-way {k}-shot, {what}: {LABELS[method]} (test accuracy %, "
                                         f"95 % interval over {c['test_tasks']} tasks; {how} chosen on validation)",
                             "paper": "-", "ours": f"{r[family]['mean']:.1f} ± {r[family]['ci95']:.1f}"})
    for k, a in record.get("gradient_agreement", {}).items():
        i, m = a["init"], a["maml"]
        rows.append({"quantity": f"{k}-shot: first-order vs exact MAML meta-gradient on {c['agreement_tasks']} "
                                 "training tasks, at the init / at MAML's chosen parameters: cosine of the task means; "
                                 "median per-task cosine; per-task norms, exact and first-order (median, largest)",
                     "paper": "-", "ours": f"{i['cosine_of_means']:.2f} / {m['cosine_of_means']:.2f}; "
                                           f"{i['median_task_cosine']:.2f} / {m['median_task_cosine']:.2f}; exact "
                                           f"{_norms(i, 'exact')} / {_norms(m, 'exact')}, first-order "
                                           f"{_norms(i, 'first_order')} / {_norms(m, 'first_order')}"})
    for method, per_k in record["results"].items():
        what = "pre-training (once for every K)" if method == "pretrain" else "meta-training"
        rows.append({"quantity": f"{LABELS[method]}: {what}, seconds per outer step and validation accuracy of the "
                                 f"chosen parameters, per K",
                     "paper": "-", "ours": "; ".join(f"K={k}: {r['s_per_step']:.3f} s, validation {r['val']:.1f}"
                                                     for k, r in per_k.items())})
    return rows
