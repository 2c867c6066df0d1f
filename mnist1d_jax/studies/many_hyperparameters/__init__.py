"""Thousands of hyperparameters (beyond the paper): a weight decay for every parameter of the Table-1 MLP, learned
by implicit differentiation.

Protocol (after Lorraine, Vicol & Duvenaud 2020, written here from the paper). The Table-1 MLP (40→100→100→10,
residual, ReLU; 15,210 parameters) is trained with the Table-1 recipe (Adam, step 0.01, batch 100, 6,000 steps)
on the frozen training set less a validation split: 1,000 of the 4,000 training examples, chosen by
``prepare_data(val_fraction=0.25, val_seed=0)``, leave 3,000 to train on; the 1,000 test examples are used only
for the reported numbers. Batches are drawn from each step's key. Every parameter θ_i has its own coupled weight
decay λ_i (the training loss is cross-entropy + ½ Σ_i λ_i θ_i², as the Table-1 recipe's weight decay), learned
as u_i = log λ_i: 15,210 hyperparameters. Four methods, each on the same ``seeds`` = 5 inits (one vmapped
program per method):

* (a) no weight decay; (b) one weight decay for all parameters, the best of ``decay_grid`` by final validation
  accuracy (the grid is a vmapped axis, every value × every seed in one program);
* (c) implicit: one training run alternating ``inner_steps`` = K Adam steps with one hyper-step: the
  hypergradient of the validation cross-entropy (all 1,000 examples) at the current parameters by the implicit
  function theorem, ``−∂²L/∂u∂θ · H⁻¹ ∇_θ L_val``, with H⁻¹ by a Neumann series of ``neumann_iterations`` terms
  and step ``neumann_alpha`` on the Hessian of the training loss over ``hessian_batch`` training examples
  (``meta.implicit(..., solver="neumann", warm_start=True)``: the estimator carries the inner state, so the run
  is never restarted), then one Adam step (``hyper_lr_implicit``) on u; 6,000 / K hyper-steps in all;
* (d) truncated: the same alternation, the hypergradient by backprop through the last K inner steps only (the
  state at the start of the window a constant: ``meta.truncated(..., window=K, online=True)``), Adam step
  ``hyper_lr_truncated``.

u starts at log ``initial_decay`` everywhere. Reported: test accuracy (%) of the final parameters, mean ± std over
seeds; for (c) and (d) the training, validation and test accuracy after every hyper-step (with this many
hyperparameters and 1,000 validation examples the validation set itself can be fitted: the gap between the
validation and the test curves says whether it is); the learned decays per tensor; seconds per hyper-step (the
whole vmapped batch of seeds, compile excluded). Also, whether the learned decays transfer: a fresh training run
from the same inits with the final decays held fixed.

Settings chosen on validation only. In short tries (2 seeds, the whole 6,000 steps) the hypergradient saw 500 of
the 1,000 validation examples and the choice was made on the other 500 (their accuracy averaged over the last 5
hyper-steps), so neither the test set nor the examples being fitted chose anything. Implicit (K = 50, 20 terms,
Hessian on 1,000 training examples, hyper step 0.03): Neumann step 0.01 → 66.2 %, 0.1 → 67.7; hyper step 0.1 →
64.3; 5 terms → 67.0; K = 100 → 65.9, K = 20 → 65.3; the Hessian on all 3,000 → 68.1 (chosen); starting at 3e-4
→ 66.7. Truncated (K = 50): hyper step 0.03 → 66.4, 0.1 → 67.7 (chosen), 0.3 → 64.8; K = 100 → 67.2, K = 20 →
65.5; starting at 3e-4 → 66.7. The single decays on the same split: best 3e-4 at 67.1, no decay 63.7. Every
difference above is within about two points of seed noise; shorter K (more hyper-steps) fitted the 500 more and
did worse on the other 500. The largest Hessian eigenvalue, measured after 600 steps, was 6.1: the step 0.1 keeps
the series convergent along it (below 2 / 6.1).

The package: `config` (the validated config, ``QUICK``, ``METHODS``), `problem` (the inner problem, its data and
the two hypergradient estimators), `fixed_decays` (whole runs with the decays held fixed: (a), (b) and the
retraining), `learned_decays` ((c) and (d), and the per-tensor summary of what they learned), `experiment`
(``run``), `rows` (``report_rows``) and `drawing` (the figure).
"""

from mnist1d_jax.studies.many_hyperparameters.config import (
    METHODS,
    NAME,
    ORIGINAL_MINUTES,
    PAPER_SEEDS,
    QUICK,
    TITLE,
    Config,
    ManyHyperparametersConfig,
)
from mnist1d_jax.studies.many_hyperparameters.drawing import draw
from mnist1d_jax.studies.many_hyperparameters.experiment import run, seed_keys
from mnist1d_jax.studies.many_hyperparameters.fixed_decays import fixed_run, train_grid
from mnist1d_jax.studies.many_hyperparameters.learned_decays import decay_spread, learn_decays
from mnist1d_jax.studies.many_hyperparameters.problem import (
    MODEL,
    accuracy,
    decay_problem,
    full_decays,
    load_data,
    make_estimator,
    penalty,
)
from mnist1d_jax.studies.many_hyperparameters.rows import report_rows

__all__ = ["METHODS", "MODEL", "NAME", "ORIGINAL_MINUTES", "PAPER_SEEDS", "QUICK", "TITLE", "Config",
           "ManyHyperparametersConfig", "accuracy", "decay_problem", "decay_spread", "draw", "fixed_run",
           "full_decays", "learn_decays", "load_data", "make_estimator", "penalty", "report_rows", "run", "seed_keys",
           "train_grid"]
