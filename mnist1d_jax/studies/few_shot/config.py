"""The few-shot study's settings: methods, task families, the seeds of the task keys and the validated config
(defaults: the protocol's)."""

from __future__ import annotations

import dataclasses

from mnist1d_jax.runtime.validation import Config, choice, fail, integer, option, positive, tuple_of

NAME = "few_shot"
TITLE = "Few-shot learning on new MNIST-1D classes (beyond the paper)"
ORIGINAL_MINUTES = None
REFUSES_CLASS_SUBSET = ("its out-of-family test draws 5-way tasks from all ten digits, and its new classes are "
                        "kept apart from all ten templates")
METHODS = ("maml", "fomaml", "protonet", "pretrain")
LABELS = {"maml": "MAML (second order)", "fomaml": "first-order MAML", "protonet": "prototypical net",
          "pretrain": "pre-train + fine-tune head"}
FAMILIES = {"new": "new test templates", "digits": "real digits (out of family)"}
VAL_SEED, TEST_SEED, AGREEMENT_SEED = 10_000, 20_000, 30_000  # task keys: never a training step's


@dataclasses.dataclass(frozen=True)
class FewShotConfig(Config):
    methods: tuple[str, ...] = option(METHODS, tuple_of(choice(*METHODS), unique=True), "methods compared")
    shots: tuple[int, ...] = option((1, 5), tuple_of(integer(1, 50), unique=True), "K: support examples per class")
    n_way: int = option(5, integer(2, 10), "N: classes per task")
    n_query: int = option(15, integer(1, 50), "query examples per class")
    train_templates: int = option(1000, integer(5, 5000), "templates of meta-training and pre-training")
    val_templates: int = option(200, integer(5, 1000), "templates of the validation tasks")
    test_templates: int = option(200, integer(5, 1000), "templates of the test tasks")
    bank_seed: int = option(0, integer(0, 2**31 - 1), "key of the template banks")
    meta_seed: int = option(0, integer(0, 2**31 - 1), "key of the inits and the training tasks")
    meta_batch: int = option(16, integer(1, 1024), "tasks per outer step")
    outer_steps: int = option(3000, integer(1, 10_000_000), "outer Adam steps per method and K")
    outer_lr: float = option(1e-3, positive(1.0), "outer Adam step size (and pre-training's)")
    inner_steps: int = option(5, integer(1, 100), "MAML: SGD steps on the support set")
    inner_lr: float = option(0.1, positive(100.0), "MAML: inner SGD step size")
    pretrain_steps: int = option(6000, integer(1, 10_000_000), "pre-training Adam steps")
    pretrain_batch: int = option(256, integer(1, 100_000), "pre-training examples per step")
    finetune_steps: int = option(100, integer(1, 100_000), "full-batch steps of the new head")
    finetune_lrs: tuple[float, ...] = option((0.001, 0.003, 0.01, 0.03, 0.1, 0.3),
                                             tuple_of(positive(100.0), unique=True),
                                             "step sizes of the new head (chosen on validation)")
    val_tasks: int = option(300, integer(2, 100_000), "validation tasks per K")
    test_tasks: int = option(1000, integer(2, 1_000_000), "test tasks per K and family")
    eval_every: int = option(500, integer(1), "outer steps between validation scores (and checkpoints)")
    eval_block: int = option(100, integer(1), "tasks per vmapped block in scoring (memory)")
    agreement_tasks: int = option(512, integer(2, 100_000), "training tasks of the first-order vs exact comparison")

    def _check(self) -> None:
        if self.n_way > self.test_templates or self.n_way > self.val_templates:
            fail(self, "n_way", self.n_way, "must be <= the validation and test templates")


Config = FewShotConfig
QUICK = FewShotConfig(shots=(1,), n_query=3, train_templates=20, val_templates=10, test_templates=10,
                      meta_batch=2, outer_steps=4, inner_steps=2, pretrain_steps=4, pretrain_batch=16,
                      finetune_steps=3, finetune_lrs=(0.1, 1.0), val_tasks=4, test_tasks=6, eval_every=2,
                      eval_block=3, agreement_tasks=4)
PAPER_SEEDS: dict = {}
