"""What the learned activation is worth: every activation (the learned f's final and lowest-objective iterates,
the baselines, the piecewise-linear fits) run through the identical inner procedure on each seed's task, in one
compiled program, and the test accuracies summarised against the best standard baseline."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.runtime.backend import reduction_heavy_options
from mnist1d_jax.studies.metalearn_activation.activations import hinge_features
from mnist1d_jax.studies.metalearn_activation.config import ActivationStudyConfig
from mnist1d_jax.studies.metalearn_activation.inner import inner_run, make_act, make_act_fd

BASELINE_ORDER = ("relu", "swish", "gelu", "elu", "softplus", "tanh", "sigmoid", "pwl_paper", "pwl_own")
STANDARD_BASELINES = ("relu", "swish", "gelu", "elu", "softplus", "tanh", "sigmoid")


def fit_pwl(f_values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Least-squares continuous piecewise-linear fit (the paper's knots) of f sampled on `grid`: coefs [7]."""
    feats = np.asarray(hinge_features(jnp.asarray(grid)))
    coef, *_ = np.linalg.lstsq(feats, f_values, rcond=None)
    return coef.astype(np.float32)


def evaluate(config: ActivationStudyConfig, tasks, final_meta, pwl_coefs=None, best_meta=None, *,
             baselines: bool = True) -> dict:
    """Test accuracy and mean train loss, per seed, of the final learned f (and of the lowest-objective iterate
    ``best_meta``, as ``learned_best``) and, with `baselines`, of every baseline (the own piecewise-linear fit
    from `pwl_coefs` [S, 7])."""
    cfg = config.inner()

    def run_kind(kind, meta):
        act = make_act(cfg, kind)
        losses, acc = jax.vmap(lambda m, t: inner_run(m, t, cfg, act, checkpoint=False,
                                                           act_fd=make_act_fd(cfg, kind)))(meta, tasks)
        return {"test_acc": acc, "mean_train_loss": losses.mean(-1),
                "objective": losses[:, cfg.objective_from:].mean(-1)}

    @functools.partial(jax.jit, compiler_options=reduction_heavy_options())
    def every_kind(final_meta, pwl_coefs, best_meta):  # one compiled program for all the inner runs
        dummy = jnp.zeros((len(config.seeds),))
        out = {"learned": run_kind("learned", final_meta)}
        if best_meta is not None:
            out["learned_best"] = run_kind("learned", best_meta)
        for kind in BASELINE_ORDER if baselines else ():
            out[kind] = run_kind("pwl", pwl_coefs) if kind == "pwl_own" else run_kind(kind, dummy)
        return out

    coefs = None if pwl_coefs is None else jnp.asarray(pwl_coefs)
    return jax.tree.map(np.asarray, every_kind(final_meta, coefs, best_meta))


def summarize(evals: dict) -> dict:
    """Test accuracy mean ± std over seeds per activation, and the learned f's margin over the best standard
    baseline (the piecewise-linear fits are other members of the learned family, reported but not baselines)."""
    summary = {k: {"mean": float(np.mean(v["test_acc"])), "std": float(np.std(v["test_acc"])),
                   "per_seed": np.asarray(v["test_acc"])} for k, v in evals.items()}
    best = max(STANDARD_BASELINES, key=lambda k: summary[k]["mean"])
    margins = np.asarray(evals["learned"]["test_acc"]) - np.asarray(evals[best]["test_acc"])
    summary["best_baseline"] = best
    summary["margin_over_best_baseline"] = summary["learned"]["mean"] - summary[best]["mean"]
    summary["margin_per_seed"] = margins
    if "learned_best" in evals:
        summary["best_iterate_margin_over_best_baseline"] = summary["learned_best"]["mean"] - summary[best]["mean"]
    return summary
