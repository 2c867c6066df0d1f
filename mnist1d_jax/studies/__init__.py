"""One module per study of the paper, each following the one protocol of ``report.runner``: a validated
``Config`` with the paper's defaults, ``run(config, ctx) -> record`` (no file I/O), ``report_rows(record)`` and
``draw(record, out)``. A study never imports another study; what they share lives in the layers below.

``STUDIES`` lists them in the order ``mnist1d-jax reproduce`` runs them; ``EXTRA`` are studies beyond the
paper's figures (not run by ``reproduce``).
"""

STUDIES = ("dataset", "benchmarks", "lottery", "double_descent", "metalearn_lr", "metalearn_activation", "pooling",
           "ssl", "tsne", "classwise_errors")
EXTRA = ("baseline_search", "lr_schedule")

__all__ = ["EXTRA", "STUDIES"]
