"""One module per study, each following the one protocol of ``report.runner``: a validated ``Config`` with
the protocol's defaults, ``run(config, ctx) -> record`` (no file I/O), ``report_rows(record)`` and
``draw(record, out)``. A study never imports another study; what they share lives in the layers below.

* ``STUDIES``: the paper's figures, in the order ``mnist1d-jax reproduce`` runs them (in both seed modes);
* ``BEYOND``: studies beyond the paper that ``reproduce`` runs after them with its default seeds (not with
  ``--seeds paper``: the paper has no run counts for them);
* ``EXTRA``: run only by their own command (``baseline_search`` is the search behind the improved baselines'
  recipes, hours of work whose outcome ``core.recipes`` holds);
* ``ALL``: every study.
"""

STUDIES = ("dataset", "benchmarks", "lottery", "double_descent", "metalearn_lr", "metalearn_activation", "pooling",
           "ssl", "tsne", "classwise_errors")
BEYOND = ("lr_schedule", "epochwise_double_descent", "neural_collapse", "optimizer_benchmark", "distill",
          "learned_optimizer", "reweight", "many_hyperparameters", "few_shot")
EXTRA = ("baseline_search",)
ALL = STUDIES + BEYOND + EXTRA

__all__ = ["ALL", "BEYOND", "EXTRA", "STUDIES"]
