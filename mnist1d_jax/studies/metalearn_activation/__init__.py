"""Metalearning an activation function (paper Fig. 6), several outer seeds in one vmapped program.

Protocol: the inner model is Dense 40→128, a learned activation f, additive hidden noise ``0.1·(2U−1)`` (one
(1, 128) vector per forward call, shared by the batch), Dense 128→10; ``f(x) = ELU(x) + 0.2·g(x)`` with g a
scalar tanh MLP (the paper's text: 1→100→100→1; the original notebook's: 1→100→1, ``g_hidden=(100,)``; g's
hidden units also get the noise, as the original). The inner optimiser is a differentiable RMSProp variant (v
starts at ones; ``v ← 0.4 v + 0.6 g²``, ``θ ← θ − 0.01 g / (√v + 1e-8)``) for 301 steps on sequential batches
of 100 from index 0, on seed-42 data with 8,000 training examples; the inner init and noise are the same at
every outer step (common random numbers). The meta-objective is the mean of the last 200 inner losses (steps
101-300), differentiated through the whole unroll with respect to g's parameters; the outer optimiser is
plain SGD (step 0.3) on the meta-gradient clipped elementwise to [−0.1, 0.1], for 301 outer steps. Test
accuracy uses the first 500 test examples. Baselines (ReLU, ELU, Swish, GELU, Softplus, tanh, sigmoid, the
paper's piecewise-linear fit and our own fit of each learned f) run the identical inner procedure; a transfer
check puts the learned f into the Table-1 MLP and CNN.

The paper: the learned f reaches ~68 % (68.4 at outer step 300) vs ReLU ~59 (every baseline beaten by > 5
points), with a non-monotonic shape; its piecewise-linear fit 66.4.

Our meta-gradient (``estimator``): the exact one through all 301 inner steps explodes once the inner run turns
chaotic (norms 1e20-1e138 from outer step ~120-145 with the deep g); clipped elementwise it becomes a vector of
signs and the iterate degrades (final iterate below ReLU). The default is therefore truncated backprop
(``meta.truncated``): the inner run is cut into windows of ``window`` = 100 steps, counted back from the end
(steps 0, 1-100, 101-200, 201-300), and each window's share of the objective is differentiated through that
window only, its starting state held fixed. The forward run, objective and clip are the paper's; the outer SGD
step is 1.0 instead of 0.3 (``truncated_outer_lr``: the truncated gradient starts 2.4-8.8x smaller). The gradient
stays bounded (norm 0.01-0.16 throughout) and the final iterate holds up. With ``paper_faithful``
(default on) the exact run with the same tasks is added (record key ``"paper_faithful"``) and both are compared
in ``metalearn_activation_estimators.png``.

Two more options of ours: ``g_table`` (default 257) evaluates g and g′ on that many nodes of [−12, 12] and
cubic-Hermite interpolates them at the 12,800 hidden units per step (exact at the nodes, the meta-gradient
within 1e-3 of the exact one, tested; ``--g-table none`` for the exact g, ~10x slower); and the exact
meta-gradient is computed by ``meta.unroll_value_and_grad``, which cannot overflow when the unroll turns chaotic.
Besides the final iterate (the paper's protocol) we report the iterate with the lowest meta-objective
(selected on training losses only); the transfer check and our piecewise-linear fit use the final f.

The package: `config` (the validated config, ``QUICK``), `activations` (f, g, the baselines, the piecewise-linear
fits, the tabulated g), `inner` (the inner problem: the model, its hand-written gradient, the RMSProp variant,
the fixed tasks), `outer_loop` (the estimators, the outer optimiser and the resumable outer loop), `evaluation`
(every activation through the same inner runs, summarised), `transfer` (the Table-1 MLP and CNN with the learned
f), `experiment` (``run``), `rows` (``report_rows``) and `drawing` (the figures).
"""

from mnist1d_jax.studies.metalearn_activation.config import (
    ESTIMATORS,
    NAME,
    ORIGINAL_MINUTES,
    PAPER_SEEDS,
    QUICK,
    TITLE,
    ActivationStudyConfig,
    Config,
)
from mnist1d_jax.studies.metalearn_activation.drawing import draw, draw_estimators
from mnist1d_jax.studies.metalearn_activation.evaluation import (
    BASELINE_ORDER,
    STANDARD_BASELINES,
    evaluate,
    fit_pwl,
    summarize,
)
from mnist1d_jax.studies.metalearn_activation.experiment import run
from mnist1d_jax.studies.metalearn_activation.inner import InnerConfig, inner_problem
from mnist1d_jax.studies.metalearn_activation.outer_loop import (
    estimator_label,
    estimator_of,
    learn,
    make_tasks,
    outer_optimizer,
    time_outer_steps,
)
from mnist1d_jax.studies.metalearn_activation.rows import report_rows
from mnist1d_jax.studies.metalearn_activation.transfer import make_transfer_train, run_transfer, transfer_table

__all__ = ["BASELINE_ORDER", "ESTIMATORS", "NAME", "ORIGINAL_MINUTES", "PAPER_SEEDS", "QUICK", "STANDARD_BASELINES",
           "TITLE", "ActivationStudyConfig", "Config", "InnerConfig", "draw", "draw_estimators", "estimator_label",
           "estimator_of", "evaluate", "fit_pwl", "inner_problem", "learn", "make_tasks", "make_transfer_train",
           "outer_optimizer", "report_rows", "run", "run_transfer", "summarize", "time_outer_steps", "transfer_table"]
