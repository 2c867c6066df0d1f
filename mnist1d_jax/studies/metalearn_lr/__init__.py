"""Metalearning the SGD learning rate (paper Fig. 5): every trial and init in one vmapped outer scan.

Protocol: the inner model is Dense 40→50, tanh, Dense 50→10 (2,560 parameters; the zoo's MLP with the
PyTorch-default init, drawn once per init key and reused unchanged at every outer step). The inner run is 200
plain-SGD steps ``θ ← θ − η ∇L`` on sequential batches of 50 from index 0 (batch s = examples ``(50 s) mod
4000`` of the frozen training set), cross-entropy, each loss recorded before its update. The outer objective is
the mean of the 200 inner losses, differentiated through the whole unroll (second-order terms kept); the outer
optimiser is plain gradient descent on η, step 0.3, for 50 steps. Two trials start from η₀ = 1.5 ("too high")
and 0.15 ("too low") from init key 0; a sweep of further inits (keys 1..8, starting alternately from 1.5 and
0.15) shows how the fixed point depends on the init. The learned η is recorded after each update.

The paper: both trials converge to η ≈ 0.62 (converged mean inner loss ≈ 1.716); with other initial weights
the fixed point moves (0.59-0.64 over four other draws).

Beyond the paper: the two trials again with each meta-gradient estimator of `meta.estimators`
(exact reverse mode, truncated backprop, antithetic ES, PES; forward mode on request) describing the same
inner problem (`inner_problem`), with the same outer optimiser, meta-parameter (η itself) and steps, so that
the learned rates, costs and seconds are directly comparable (record key ``"estimators"``).

The package: `config` (the validated config, ``QUICK``, ``ESTIMATORS``), `inner` (the inner task, its batches and
the inner problem), `fused` (the hand-written forward-mode meta-gradient, the default), `estimators` (the
estimator comparison), `experiment` (``run``: the trials and the sweep, the memory profile, then the
comparison), `rows` (``report_rows``) and `drawing` (the figures).
"""

from mnist1d_jax.studies.metalearn_lr.config import (
           ESTIMATORS,
           NAME,
           ORIGINAL_MINUTES,
           PAPER_SEEDS,
           QUICK,
           TITLE,
           Config,
           LRStudyConfig,
)
from mnist1d_jax.studies.metalearn_lr.drawing import draw, draw_estimators
from mnist1d_jax.studies.metalearn_lr.estimators import make_estimator, run_estimators
from mnist1d_jax.studies.metalearn_lr.experiment import memory_profile, run, runs_of
from mnist1d_jax.studies.metalearn_lr.fused import fused_estimator, fused_step
from mnist1d_jax.studies.metalearn_lr.inner import inner_problem, inner_task, plain_sgd, sequential_batches
from mnist1d_jax.studies.metalearn_lr.rows import report_rows

__all__ = ["ESTIMATORS", "NAME", "ORIGINAL_MINUTES", "PAPER_SEEDS", "QUICK", "TITLE", "Config", "LRStudyConfig", "draw",
           "draw_estimators", "fused_estimator", "fused_step", "inner_problem", "inner_task", "make_estimator",
           "memory_profile", "plain_sgd", "report_rows", "run", "run_estimators", "runs_of", "sequential_batches"]
