"""The distillation study's settings: the protocol's constants, the two models and the validated config
(defaults: the protocol's)."""

from __future__ import annotations

import dataclasses

from mnist1d_jax.nn.models import CNN, MLP
from mnist1d_jax.runtime.validation import Config, boolean, choice, fail, fraction, integer, option, positive, tuple_of

NAME = "distill"
TITLE = "Dataset distillation: ten learned examples per class (beyond the paper)"
ORIGINAL_MINUTES = None
REFUSES_CLASS_SUBSET = ("its synthetic set holds ten examples of each of the ten digits, and its baselines "
                        "draw from every class")
MODELS = {"mlp": MLP(), "cnn": CNN()}
ESTIMATORS = ("exact", "truncated")
EVAL_SEED = 10_000  # evaluation inits are keys EVAL_SEED + i: never an outer step's key


@dataclasses.dataclass(frozen=True)
class DistillConfig(Config):
    models: tuple[str, ...] = option(("mlp", "cnn"), tuple_of(choice(*MODELS), unique=True), "models distilled for")
    per_class: int = option(10, integer(1, 300), "learned examples per class")
    steps: tuple[int, ...] = option((10, 30), tuple_of(integer(1, 10_000), unique=True),
                                    "candidate inner horizons T (chosen on validation)")
    estimators: tuple[str, ...] = option(ESTIMATORS, tuple_of(choice(*ESTIMATORS), unique=True),
                                         "candidate meta-gradient estimators (chosen on validation)")
    window: int = option(5, integer(1, 10_000), "truncated backprop: inner steps per window")
    initial_lr: float = option(0.1, positive(100.0), "the inner step size at the start (learned in log space)")
    per_step_lr: bool = option(True, boolean, "learn one step size per inner step (else one for the run)")
    learn_labels: bool = option(True, boolean, "learn soft labels too (logits, starting at 5·one-hot)")
    momentum: float = option(0.9, fraction(), "momentum of the inner SGD (0: plain gradient descent)")
    outer_steps: int = option(3000, integer(1, 10_000_000), "outer Adam steps")
    outer_lr: float = option(0.01, positive(10.0), "outer Adam step size")
    real_batch: int = option(500, integer(1, 100_000), "real training examples in each outer step's objective")
    meta_seed: int = option(0, integer(0, 2**31 - 1), "key of meta-training (inits, batches) and the first draw")
    eval_inits: int = option(10, integer(1, 10_000), "fresh inits every training set is evaluated on")
    random_draws: int = option(10, integer(1, 10_000), "random real draws of per_class examples per class")
    lr_grid: tuple[float, ...] = option((0.01, 0.03, 0.1, 0.3, 1.0, 3.0), tuple_of(positive(100.0), unique=True),
                                        "step sizes of the baselines (chosen on validation)")
    val_fraction: float = option(0.125, fraction(lo_open=True), "share of the training set held out (500)")
    chunk: int = option(250, integer(1), "outer steps per compiled chunk (progress and checkpoints)")

    def _check(self) -> None:
        n_train = 4000 - round(4000 * self.val_fraction)
        if self.real_batch > n_train:
            fail(self, "real_batch", self.real_batch, f"must be <= the {n_train} training examples")
        if "truncated" in self.estimators and self.window > min(self.steps):
            fail(self, "window", self.window, f"must be <= the shortest horizon {min(self.steps)}")


Config = DistillConfig
QUICK = DistillConfig(per_class=2, steps=(3,), window=2, outer_steps=4, chunk=2, real_batch=50, eval_inits=2,
                      random_draws=2, lr_grid=(0.1,))
PAPER_SEEDS: dict = {}
