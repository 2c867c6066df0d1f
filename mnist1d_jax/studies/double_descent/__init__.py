"""Deep double descent (paper Fig. 4) and the NLL-vs-MSE claim.

Protocol: 4,000 train / 12,000 test examples (``DatasetConfig(num_samples=16000, train_split=0.25)``, seed 42).
Label noise as the original: NumPy's legacy stream continues right after the generator's draws and every
training label is replaced by a uniform random class with probability 0.15 (with seed 42: 639 of 4,000
selected, 577 changed; test labels stay clean). Models: an MLP with two hidden layers of width n and no
residual (n^2 + 52n + 10 parameters; widths unique(int(geomspace(2, 300, 20))), 19 values) and the Table-1 CNN
with c channels in all three convolutions (6c^2 + 58c + 10; channels 2..28 by 2 and 30..100 by 5, 29 values).
Training: cross-entropy (NLL), SGD lr 0.01 with momentum 0.9, batch 100 with a fresh shuffle every epoch, 500
epochs (20,000 steps), the PyTorch-default init; one evaluation at the end: train error (against the noisy
labels) and test error in %, as floats.

Panels: MLP on clean labels, MLP on noisy labels, CNN on noisy labels (the paper's three), plus the MLP on noisy
labels trained with MSE on one-hot targets (widths extended past n·K = 40,000 parameters) to check the paper's
claim that with MSE the interpolation threshold moves from n to n·K parameters. Each panel is a
``sweeps.sweep_widths`` call: every (width, seed) of a width bucket trains in one vmapped program; every bucket
is kept in the study's store as it finishes, so an interrupted run resumes.

The paper's 2024 run: MLP noisy minimum 47.2 % at width 16, peak ~54.0 % at 47-61, 45.5 at 300; CNN noisy
minimum 19.6 % at 10 channels, peak 33.8 % at 18, ~27.5 at 95-100; MLP clean 41.0 / 12.1 % (test / train) at
width 27 and 37.3 / 0 at 300. The peaks sit where the parameters ~ the 4,000 training examples.

The package, one job per module: `config` (the validated settings, each panel's model, widths, labels and loss,
QUICK, PAPER_SEEDS), `experiment` (``run``: every panel swept bucket by bucket, the buckets merged), `peak` (where
a panel's test error peaks), `rows` (the paper-vs-ours rows) and `drawing` (the figure, from the record only).

As a study of ``report.runner`` it exports NAME, TITLE, ORIGINAL_MINUTES, REFUSES_CLASS_SUBSET, Config, QUICK,
PAPER_SEEDS, ``run(config, ctx) -> record``, ``report_rows(record)`` and ``draw(record, out)``, and the helpers the
scripts and tests use.
"""

from mnist1d_jax.studies.double_descent.config import (
    N_CLASSES,
    N_TRAIN,
    NAME,
    ORIGINAL_MINUTES,
    PANELS,
    PAPER_SEEDS,
    QUICK,
    REFUSES_CLASS_SUBSET,
    TITLE,
    Config,
    DoubleDescentConfig,
    label_of,
    total_points,
)
from mnist1d_jax.studies.double_descent.drawing import TITLES, draw
from mnist1d_jax.studies.double_descent.experiment import merge_panel, run
from mnist1d_jax.studies.double_descent.peak import find_peak
from mnist1d_jax.studies.double_descent.rows import ORIGINAL_PANEL_MINUTES, ORIGINAL_POINTS, report_rows

__all__ = ["NAME", "N_CLASSES", "N_TRAIN", "ORIGINAL_MINUTES", "ORIGINAL_PANEL_MINUTES", "ORIGINAL_POINTS", "PANELS",
           "PAPER_SEEDS", "QUICK", "REFUSES_CLASS_SUBSET", "TITLE", "TITLES", "Config", "DoubleDescentConfig", "draw",
           "find_peak", "label_of", "merge_panel", "report_rows", "run", "total_points"]
