"""Dataset distillation (beyond the paper): ten learned examples per class that train a freshly initialised net.

Protocol (after Wang et al. 2018, written here from the paper): the meta-parameters are a synthetic training
set of ``per_class`` = 10 inputs per digit (100 × 40), their soft labels (logits, starting at 5·one-hot;
``learn_labels``) and one inner step size per inner step (in log space; ``per_step_lr``), as Wang et al. learn
the step sizes. The inner run draws a *fresh* init of the Table-1 MLP or the Table-1 CNN from its key every outer
step and takes T full-batch steps of SGD with momentum 0.9 on the synthetic set (soft-label cross-entropy); the
meta-objective is the cross-entropy of the trained net on ``real_batch`` = 500 real training examples drawn with
the step's key. The synthetic inputs start as a random real draw of 10 per class; Adam (``outer_lr`` 0.01)
updates all meta-parameters for ``outer_steps`` = 3,000 outer steps. The frozen training set is split 3,500 /
500: meta-training and its objective see the 3,500, the 500 validation examples choose everything that is
chosen, and the 1,000 test examples are used only for the reported numbers.

Chosen on the validation split, inside the run: the horizon T (``steps``: 10 or 30) and the meta-gradient
estimator (``estimators``: the exact unroll, or truncated backprop over windows of ``window`` = 5 steps) — every
pair is meta-trained and the one whose distilled set gives the best mean validation accuracy over the
evaluation inits is reported. The baselines' step sizes come from ``lr_grid``, also by validation accuracy.
Tried first (MLP, T = 10, plain gradient descent, one learned step size, hard labels, 3,000 outer steps):
validation 34.3 %, test 32.2 ± 1.5 vs 21.4 for random real examples (+10.8); with per-step step sizes and soft
labels 39.0 ± 3.4 (+17.6); the CNN needed momentum (plain descent: 19.7 ± 3.4 vs 14.6, every set below 18 %
after 10 steps).

Evaluation: ``eval_inits`` = 10 inits never seen in meta-training (keys from ``EVAL_SEED`` on), each trained by
the same inner run (T steps of SGD with momentum at the set's step sizes) on: the distilled set; ``random_draws``
= 10 random draws of 10 real examples per class (hard labels); the k-means centres (10 per class,
`data.coresets`); all 3,500 training examples. Cross-architecture transfer: the MLP's distilled set (inputs and
soft labels) trains the CNN and the CNN's the MLP (a constant step size from the grid, on validation). Test
accuracy in %, mean ± std over inits (× draws). Wang et al. report, on MNIST, 93.8 % with 10 learned images and
a fixed init, and 79.5 ± 8.1 % with 100 learned images and random inits.

The package, one job per module: `config` (the validated settings, QUICK, PAPER_SEEDS), `problem` (the inner
problem: T steps of SGD on a training set, and which examples a trained net gets right), `meta_train` (one
distilled set, meta-trained), `evaluation` (accuracies on unseen inits, step sizes chosen on validation),
`experiment` (``run``: every candidate, the baselines, the transfer), `rows` (the report's rows) and `drawing` (the
figure, from the record only).

As a study of ``report.runner`` it exports NAME, TITLE, ORIGINAL_MINUTES, REFUSES_CLASS_SUBSET, Config, QUICK,
PAPER_SEEDS, ``run(config, ctx) -> record``, ``report_rows(record)`` and ``draw(record, out)``, and the helpers the
scripts and tests use.
"""

from mnist1d_jax.studies.distill.config import (
    ESTIMATORS,
    EVAL_SEED,
    MODELS,
    NAME,
    ORIGINAL_MINUTES,
    PAPER_SEEDS,
    QUICK,
    REFUSES_CLASS_SUBSET,
    TITLE,
    Config,
    DistillConfig,
)
from mnist1d_jax.studies.distill.drawing import draw
from mnist1d_jax.studies.distill.experiment import distill_model, run
from mnist1d_jax.studies.distill.meta_train import meta_train
from mnist1d_jax.studies.distill.problem import correct, distill_problem, soft_cross_entropy
from mnist1d_jax.studies.distill.rows import report_rows

__all__ = ["ESTIMATORS", "EVAL_SEED", "MODELS", "NAME", "ORIGINAL_MINUTES", "PAPER_SEEDS", "QUICK",
           "REFUSES_CLASS_SUBSET", "TITLE", "Config", "DistillConfig", "correct", "distill_model", "distill_problem",
           "draw", "meta_train", "report_rows", "run", "soft_cross_entropy"]
