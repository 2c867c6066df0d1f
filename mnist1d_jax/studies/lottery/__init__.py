"""Lottery tickets (paper Fig. 3 a-g and the appendix mask figure).

Protocol. The model is the Table-1 MLP at width 500 (40→500, a residual 500→500, 500→10; 276,010
parameters) with a 0/1 mask over every layer's weights and biases, applied in every forward pass. The search
(two trials x two criteria): from the initial weights θ0 (seed 42 + trial, the same θ0 for both criteria), for
rounds i = 0..99 at sparsity s_i = i / 99, prune each layer's floor(s_i · size) lowest-scoring entries
(layer-wise, biases included), rewind to θ0 with the new mask and train under the original harness (Adam 0.02,
batch 100, T = 1,501, test evaluation every 100 steps); the scores of the next round are |weights| of this
round's step-1,000 snapshot (the original keeps that snapshot; the final weights are an option) for lottery
tickets, fresh uniform noise for random tickets. Round 91 (s = 0.92) is the reference ticket. Ablations on it,
per trial: new seed-43 data, the inputs flipped, the inputs permuted (``np.random.seed(0); permutation(40)``)
and the weights re-initialised (seed 43 + trial, masks kept), each for the dense model, the lottery ticket and
the random ticket (batch 500, T = 6,000); then the adjacency of the first layer's kept weights (the fraction of
runs of 2, 3, 4 adjacent kept inputs per hidden unit) and the first-layer mask images.

The paper: dense ~63.5-66 %; lottery tickets peak at ~73-76 % around sparsity 0.88-0.93 while random tickets
collapse earlier; on new data the 92 % ticket plateaus at ~70.5 % vs dense ~63.7 and random ~59, keeps most of
its advantage on flipped inputs (~68.8), loses it on permuted ones (~62.8) and keeps much of it re-initialised
(~67.3); lottery tickets keep more adjacent first-layer weights (p2 ~0.0086 vs ~0.0072 random).

How: every round of the four searches is ONE compiled program whose run axis (the searches) is split over
the devices (``core.parallel``: CPU cores after ``use_cpu_cores()``, GPUs, or every host's devices after
``jax.distributed.initialize()``); every round trains only the units its masks leave alive
(``masks.compact_residual``: exact, dead work skipped) at one shared padded shape, and the ablations are one such
program per model type. The search and every ablation program are kept in the study's store as they finish, so
an interrupted run resumes.

The package, one job per module: `config` (the validated settings, QUICK, PAPER_SEEDS), `harness` (the training
harness on compacted parameters and the two compiled programs: a search round, a batch of ablation runs),
`search` (the pruning rounds), `ablations` (the reference ticket's transfer runs), `experiment` (``run``: both,
then the record's adjacency and mask images), `rows` (the paper-vs-ours rows) and `drawing` (the figures, from the
record only).

As a study of ``report.runner`` it exports NAME, TITLE, ORIGINAL_MINUTES, Config, QUICK, PAPER_SEEDS, ``run(config,
ctx) -> record``, ``report_rows(record)`` and ``draw(record, out)``, and the helpers the scripts and tests use.
"""

from mnist1d_jax.studies.lottery.ablations import run_ablations
from mnist1d_jax.studies.lottery.config import (
    CONDITIONS,
    MODELS,
    NAME,
    ORIGINAL_MINUTES,
    PAPER_SEEDS,
    QUICK,
    REFERENCE_ROUND,
    TITLE,
    Config,
    LotteryConfig,
)
from mnist1d_jax.studies.lottery.drawing import draw
from mnist1d_jax.studies.lottery.experiment import run
from mnist1d_jax.studies.lottery.harness import (
    ablation_runs,
    harness_run,
    lottery_data,
    run_sharded,
    search_round,
    theta0,
)
from mnist1d_jax.studies.lottery.rows import report_rows
from mnist1d_jax.studies.lottery.search import describe_round, run_search

__all__ = ["CONDITIONS", "MODELS", "NAME", "ORIGINAL_MINUTES", "PAPER_SEEDS", "QUICK", "REFERENCE_ROUND", "TITLE",
           "Config", "LotteryConfig", "ablation_runs", "describe_round", "draw", "harness_run", "lottery_data",
           "report_rows", "run", "run_ablations", "run_search", "run_sharded", "search_round", "theta0"]
