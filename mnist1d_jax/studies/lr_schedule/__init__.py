"""A learned learning-rate schedule for the Table-1 MLP, metalearned by PES (beyond the paper).

Protocol: the inner run is the Table-1 MLP (the zoo's ``MLP()``: 40→100→100→10, ReLU, residual, the PyTorch-
default init) trained by Adam (β 0.9 / 0.999, ε 1e-8, no weight decay) with batch 100 for ``inner_steps`` =
1,000 steps on 3,500 of the 4,000 frozen training examples (a fresh permutation every epoch, from the run's
key); the other 500 are the validation set, never trained on. The schedule is the log learning rate at
``knots`` = 16 points evenly spaced over the run, linearly interpolated (η_t = exp of the interpolant), and
starts as the constant 0.01 (Table 1's rate). The meta-objective is the soft validation error (1 − the mean
softmax probability of the true class) on a rotating 100-example validation batch, averaged over the last
``objective_steps`` = 200 inner steps: it tracks accuracy without the overconfidence that makes the validation
*loss* of an overfitting MLP favour tiny rates. It is metalearned by PES (`meta.pes`, windows of 100 steps,
σ = 0.1 in log-rate units, 4 antithetic pairs; all windows of a run per outer step) with Adam (step 0.05) on
the knots, for each of ``meta_seeds`` (init and batch order of the meta-training run) in one vmapped call.

Comparison: constant rates and cosine decays to zero (peak rates on ``grid``) are the baselines; the best of
each is chosen by mean validation accuracy over the evaluation seeds. Every schedule (each learned one, every
constant and cosine) is then trained from ``eval_seeds`` fresh seeds (inits and batch orders unseen in
meta-training) in one vmapped program, and test accuracy on the 1,000 frozen test examples is reported at the
end of training (no early stopping).

The package: `config` (the validated config, ``QUICK``), `schedules` (knots and baselines as per-step rates),
`inner` (the inner run: data, init, batch order, the Adam step and the inner problem), `experiment` (``run``:
meta-training, then the evaluation of every schedule), `rows` (``report_rows``) and `drawing` (the figure).
"""

from mnist1d_jax.studies.lr_schedule.config import (
           NAME,
           ORIGINAL_MINUTES,
           PAPER_SEEDS,
           QUICK,
           SEED_OFFSET,
           TITLE,
           Config,
           ScheduleStudyConfig,
)
from mnist1d_jax.studies.lr_schedule.drawing import draw
from mnist1d_jax.studies.lr_schedule.experiment import run
from mnist1d_jax.studies.lr_schedule.inner import load_data, make_context, make_problem, train_with_rates
from mnist1d_jax.studies.lr_schedule.rows import report_rows
from mnist1d_jax.studies.lr_schedule.schedules import baseline_rates, knot_steps, rate_at, schedule_rates

__all__ = ["NAME", "ORIGINAL_MINUTES", "PAPER_SEEDS", "QUICK", "SEED_OFFSET", "TITLE", "Config", "ScheduleStudyConfig",
           "baseline_rates", "draw", "knot_steps", "load_data", "make_context", "make_problem", "rate_at",
           "report_rows", "run", "schedule_rates", "train_with_rates"]
