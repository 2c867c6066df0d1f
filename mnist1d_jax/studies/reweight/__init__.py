"""Learning to reweight examples (beyond the paper): does a metalearned weight per example remove the noisy
double-descent peak?

Method (after Ren et al. 2018, written here from the paper): at every training step each example of the batch
gets a weight eps_i, starting at 0, on its cross-entropy; one look-ahead SGD step (the training step size) on
``sum_i eps_i * loss_i`` gives look-ahead params, and the meta-gradient of the *clean* validation loss at those
params with respect to eps (a one-step `meta.InnerProblem`: meta = eps, objective = the clean loss; its exact
reverse-mode estimator, ``meta.exact``, or forward mode, called inside the jitted training scan) scores every
example. The weights are ``w = max(-grad, 0)`` normalised to sum to 1 over the batch (all zero: every weight 0,
the step's gradient is zero and only the momentum moves the params), and the real optimiser step minimises
``sum_i w_i * loss_i`` (``sweeps.train_weighted``). At eps = 0 the look-ahead params are the current ones, so
``-grad_i`` is the step size times the dot product of example i's gradient with the clean-loss gradient: an
example counts only when it pulls the same way as the clean data, and the step size does not change the
normalised weights.

Protocol: the noisy-MLP panel of the double-descent study. 4,000 train / 12,000 test examples (16,000 made with
seed 42, 25 % training), the original notebook's 15 % label noise (each training label replaced by a uniform
random digit with probability 0.15: 577 of 4,000 wrong), the MLP with two hidden layers of width n, SGD 0.01
with momentum 0.9, batch 100 with a fresh shuffle every epoch, 500 epochs, test error at the end. ``n_clean`` =
200 training rows drawn with ``clean_seed`` (``data.clean_split``) keep their true labels as the clean
validation set. Five methods, each a ``sweeps.sweep_widths`` call per width bucket (every (width, seed) in one
vmapped program at the width's true fan-in init, padded and masked):

* plain: all 4,000 rows, the 200 with their true labels (the same data the others see; otherwise the
  double-descent protocol, whose curve this is: ~548 wrong labels instead of 577);
* reweight: the other 3,800 rows (noisy labels) trained with the weights above, the 200 clean rows only in the
  meta-objective;
* oracle: only the rows whose label is right (the clean 200 included), the wrong ones dropped;
* mwnet: Meta-Weight-Net (`mwnet`) on reweighting's data: a 1-100-1 net maps each
  example's loss to a weight in (0, 1), normalised by the batch sum; the net takes one Adam step per training
  step along the same one-step look-ahead meta-gradient (meta = the net's params), then weighs the real step;
* prune ("meta-gradient cleaning", `selection`): the 3,800 noisy rows ranked by how often
  the reweighting runs kept them (kept share averaged over every width and seed), the least often kept
  fraction dropped, the rest plus the clean 200 (true labels) trained plainly.

The peak width is where the plain curve's mean test error rises most above its running minimum over smaller
widths. How well the weights find the wrong labels: each example's weight averaged over all of training (the
mean of the normalised weights it got in the ~500 batches it was in), the lowest 15 % of the 3,800 taken, and
the share of wrong labels among them, against the base rate (the share of wrong labels in the 3,800). A mean
weight mixes how often an example is kept with how large its gradient is when kept, so the same share is also
given for the 15 % least often kept (the share of its steps in which its weight was positive).

Settings chosen on the clean validation rows (`selection`; one seed at plain's peak width, the full
protocol, trained without the clean rows, which score it; the lowest validation error wins): MW-Net's Adam
learning rate from ``meta_lrs`` (1e-4, 1e-3 (the paper's), 1e-2) and the pruned fraction from
``prune_fractions`` (0, 5, 10, 15, 20 %). Reweighting itself is not tuned: it has no setting beyond the
protocol's (the look-ahead step is the training step size; at eps = 0 it only scales the weights before they
are normalised). No test number chose anything.
The kept-share ranking was added after the first full run showed that the mean weight ranks wrong labels
*above* right ones at large widths (a wrong label, never fitted, has a large gradient whenever it is kept); it
is a second measurement of the same runs, not a setting. What the default run found (3 seeds): plain training
peaks at width 47 (54.4 ± 0.6 % test error); reweighting flattens the curve to 50-53 % at every width from 16
on (51.2 ± 0.3 at 47: 3.2 points lower, short of a 5-point goal) but ends above plain training from width 80 on
(52.3 vs 45.2 at 300), its train error stuck near 20 %; the oracle has no peak (42.6 at 47, 38.5 at 300).
MW-Net's learning rate try (width 47, seed 0, validation error): 1e-4: 57.5 %, 1e-3: 72.0 %, 1e-2: 92.5 %
(diverged), so 1e-4; with it MW-Net does *not* help: 56.8 ± 1.9 at 47 (2.4 points above plain), 57.3 at 36,
46.1 at 300. Its learned weight grows with the loss, so it up-weights the wrong labels (2 % wrong labels among
its lowest-weighted 15 % at the peak, base rate 14.4 %); an earlier trial with other init draws had picked
1e-3 instead (1e-4: 65.5, 1e-3: 56.5), so the choice itself is fragile. Pruning: the validation error falls
with every fraction tried (0: 59.5, 5 %: 50.0, 10 %: 47.5, 15 %: 42.0, 20 %: 41.5), so 20 % (the grid's edge:
760 rows dropped, 236 of 546 wrong labels left); retrained plainly it reaches 49.2 ± 0.6 at 47 (5.2 points
below plain: the goal met, barely) and falls steadily with width (44.1 at 300), the peak gone; its ranking
needs the reweighting runs first (their cost comes with it).

The package, one job per module: `config` (the validated settings, the methods, QUICK, PAPER_SEEDS), `lookahead`
(Ren et al.'s weights: the one-step look-ahead meta-gradient), `mwnet` (Meta-Weight-Net), `selection` (the
settings chosen on the clean rows, and pruning), `experiment` (``run``: each method's training sets, then every
method over every width bucket), `measures` (the peak width, the wrong labels among the lowest-ranked), `rows`
(the report's rows) and `drawing` (the figure, from the record only).

As a study of ``report.runner`` it exports NAME, TITLE, ORIGINAL_MINUTES, REFUSES_CLASS_SUBSET, Config, QUICK,
PAPER_SEEDS, ``run(config, ctx) -> record``, ``report_rows(record)`` and ``draw(record, out)``, and the helpers the
scripts and tests use.
"""

from mnist1d_jax.studies.reweight.config import (
    ESTIMATORS,
    LABELS,
    METHODS,
    NAME,
    ORIGINAL_MINUTES,
    PAPER_SEEDS,
    QUICK,
    REFUSES_CLASS_SUBSET,
    TITLE,
    Config,
    ReweightConfig,
)
from mnist1d_jax.studies.reweight.drawing import draw
from mnist1d_jax.studies.reweight.experiment import method_data, run, weigher
from mnist1d_jax.studies.reweight.lookahead import lookahead_problem, make_weigh, normalise
from mnist1d_jax.studies.reweight.measures import noisy_share, peak_index
from mnist1d_jax.studies.reweight.rows import report_rows

__all__ = ["ESTIMATORS", "LABELS", "METHODS", "NAME", "ORIGINAL_MINUTES", "PAPER_SEEDS", "QUICK",
           "REFUSES_CLASS_SUBSET", "TITLE", "Config", "ReweightConfig", "draw", "lookahead_problem", "make_weigh",
           "method_data", "noisy_share", "normalise", "peak_index", "report_rows", "run", "weigher"]
