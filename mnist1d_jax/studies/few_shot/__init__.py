"""Few-shot learning on new MNIST-1D classes (beyond the paper): MAML, first-order MAML, prototypical networks
and a pre-trained classifier with a fine-tuned last layer, on 5-way 1-shot and 5-way 5-shot tasks.

Protocol. New classes are new 12-point templates put through the generator's recipe (``data.new_classes``:
Gaussian-process bridges at the digits' roughness, within their value range, every two templates at least half
the closest digits' spacing apart). One packing gives three disjoint banks: ``train_templates`` = 1,000 for
meta-training and pre-training, ``val_templates`` = 200 for every choice, ``test_templates`` = 200 for the
reported numbers. A task takes N = 5 classes of a bank, K support and ``n_query`` = 15 query examples per class,
all rendered afresh from the task's key; the out-of-family test takes 5 of the ten real digits and their rows
of the frozen test split (no method ever sees a digit in training). Backbone (every method): the Table-1
CNN's convolutions, 125 features (`methods`).

Methods: MAML (``meta.exact`` of the task's `InnerProblem`: second order), first-order MAML (``meta.
from_value_and_grad``), prototypical networks, and pre-training on the 1,000 training templates (one softmax)
with a new N-way head fitted on each task's support set. MAML's inner loop: ``inner_steps`` SGD steps of
``inner_lr`` on the support set, the same in meta-training and test. Meta-training: Adam (``outer_lr``) for
``outer_steps`` outer steps of ``meta_batch`` tasks each (`meta.batched`, tasks a vmapped axis), one run per
method and K; pre-training: Adam for ``pretrain_steps`` steps of ``pretrain_batch`` examples.

Chosen on validation tasks (fixed keys, ``val_tasks`` = 300 per K), inside the run: every ``eval_every`` = 500
outer steps the current parameters are scored on the validation tasks and the best are kept (this chooses the
outer-step count); for the pre-trained net also the fine-tuning step size (``finetune_lrs``) for each K.
Chosen on the same validation tasks before the default run (prototype runs; no test task drawn): MAML's inner
loop among step sizes {0.1, 0.4} × {1, 5} steps, 1,000 outer steps each; validation accuracy (%) 5-shot /
1-shot: 0.4 × 1: 47.0 / 40.0; 0.4 × 5: 61.7 / 46.6; 0.1 × 1: 40.1 / 37.5; 0.1 × 5: 64.4 / 48.9, so 0.1 × 5.
First-order MAML failed on the same grid (every setting 24-38 %, erratic; best 37.8 / 35.8, both at 0.4 × 5),
so it keeps MAML's setting. The MAML curves were still rising at 1,000 steps, the prototypical net's at 3,000
(69.5 / 52.1), the pre-trained net's 5-shot score at 4,000 (66.2, fine-tuning step 0.03 the best of 0.01-3,
hence the grid around it; its 1-shot score peaked at 40.2 after 1,250 steps): the outer-step counts (3,000;
pre-training 6,000) are set by the 20-minute budget of the default run, not by a plateau.

Why first-order MAML falls behind (``gradient_agreement``): its per-task meta-gradient against the exact one on
``agreement_tasks`` = 512 training tasks, at the init and at MAML's chosen parameters (cosine of the means over
the tasks, median per-task cosine, per-task norms).

Reported: query accuracy (%) over ``test_tasks`` = 1,000 test tasks per (method, K, family), the same tasks
for every method, mean ± the 95 % interval ``1.96·sd/√n`` over tasks (tasks share the 200 test templates, so
the interval is for this bank's task distribution).

The package, one job per module: `config` (the validated settings, QUICK, PAPER_SEEDS), `methods` (the backbone
and the four methods, each a `meta.Estimator` over one task, and their per-task scores), `tasks` (the task
samplers of one K, each method's estimator and start, accuracies over many tasks), `training` (one method
trained, its parameters chosen on validation), `experiment` (``run``: every method per K, tested; the
meta-gradient agreement; an example task), `rows` (the report's rows) and `drawing` (the figure, from the record only).

As a study of ``report.runner`` it exports NAME, TITLE, ORIGINAL_MINUTES, REFUSES_CLASS_SUBSET, Config, QUICK,
PAPER_SEEDS, ``run(config, ctx) -> record``, ``report_rows(record)`` and ``draw(record, out)``, and the helpers the
scripts and tests use.
"""

from mnist1d_jax.studies.few_shot.config import (
    AGREEMENT_SEED,
    FAMILIES,
    LABELS,
    METHODS,
    NAME,
    ORIGINAL_MINUTES,
    PAPER_SEEDS,
    QUICK,
    REFUSES_CLASS_SUBSET,
    TEST_SEED,
    TITLE,
    VAL_SEED,
    Config,
    FewShotConfig,
)
from mnist1d_jax.studies.few_shot.drawing import draw
from mnist1d_jax.studies.few_shot.experiment import fit, real_digits, run
from mnist1d_jax.studies.few_shot.rows import report_rows
from mnist1d_jax.studies.few_shot.tasks import Tasks, accuracies, ci95, estimator_and_start, task_keys
from mnist1d_jax.studies.few_shot.training import train

__all__ = ["AGREEMENT_SEED", "FAMILIES", "LABELS", "METHODS", "NAME", "ORIGINAL_MINUTES", "PAPER_SEEDS", "QUICK",
           "REFUSES_CLASS_SUBSET", "TEST_SEED", "TITLE", "VAL_SEED", "Config", "FewShotConfig", "Tasks", "accuracies",
           "ci95", "draw", "estimator_and_start", "fit", "report_rows", "run", "task_keys", "real_digits", "train"]
