"""mnist1d-jax: the MNIST-1D dataset and the experiments of "Scaling down Deep Learning with MNIST-1D" in JAX.

Data flows one way, one layer per subpackage, each importing only the layers below it (checked in CI by
``lint-imports``, the contracts in ``pyproject.toml``): ``runtime`` (devices, precision, validation, files and
records) -> ``data`` (the exact generator, files, splits, class subsets) -> ``nn`` (the one init, the layers,
the model zoo) -> ``core`` (one train step, one loop, runs over seeds, width sweeps, masks) -> ``meta`` |
``analysis`` -> ``studies`` (one module or small package per study) -> ``report`` (the runner, REPORT.md) ->
``cli``.

The public API, all pure functions of explicit arguments and keys (shapes in each docstring). Every accuracy
is in % (``acc``, ``<split>_acc``: `train_step`, `evaluate`, `train`, `train_seeds`, `sweep_widths` alike):

* data: `DatasetConfig`, `make_dataset`, `get_dataset`, `prepare_data` -> `Data`, `sample`; huge datasets
  streamed to memory-mappable ``.npy`` files: `write_dataset`, `load_streamed`;
* class subsets (train on some digits, hold out the rest), always an explicit argument:
  ``prepare_data(..., classes="0-7")``, `parse_classes`, `select_classes`, `max_softmax_auroc` (`use_classes`,
  `set_classes`, `current_classes` are deprecated);
* training: `create_train_state`, `train_step`, `evaluate`, `train_loop`, `TrainConfig`, `train`, `train_seeds`;
* width sweeps `sweep_widths`, lottery-ticket `masks`, metalearning `meta`;
* neural-collapse metrics and linear CKA `representations` (NC1-NC4, each variant named);
* the matmul precision policy `precision` (float32 by default on every backend; tf32 / bf16 on request);
* `enable_compile_cache()`: JAX's persistent compilation cache for your own program (the CLI turns it on itself).

Names are imported on first use, so ``import mnist1d_jax`` for the dataset alone does not load JAX.
"""

import importlib

from mnist1d_jax.runtime.version import __version__ as __version__

_WHERE = {  # public name -> the module that defines it
    "ConfigError": "mnist1d_jax.runtime.validation", "DatasetConfig": "mnist1d_jax.data.config",
    "Dataset": "mnist1d_jax.data.generator", "make_dataset": "mnist1d_jax.data.generator",
    "get_dataset": "mnist1d_jax.data.io", "load_dataset": "mnist1d_jax.data.io", "save_dataset": "mnist1d_jax.data.io",
    "sample": "mnist1d_jax.data.sampler", "Data": "mnist1d_jax.data.splits", "prepare_data": "mnist1d_jax.data.splits",
    "Templates": "mnist1d_jax.data.templates", "get_templates": "mnist1d_jax.data.templates",
    "TrainState": "mnist1d_jax.core.step", "create_train_state": "mnist1d_jax.core.step",
    "train_step": "mnist1d_jax.core.step", "evaluate": "mnist1d_jax.core.step",
    "make_optimizer": "mnist1d_jax.core.step", "set_hyperparams": "mnist1d_jax.core.step",
    "train_loop": "mnist1d_jax.core.loop", "TrainConfig": "mnist1d_jax.core.runs", "train": "mnist1d_jax.core.runs",
    "train_seeds": "mnist1d_jax.core.runs", "SweepConfig": "mnist1d_jax.core.masked_training",
    "sweep_widths": "mnist1d_jax.core.sweeps",
    "select_classes": "mnist1d_jax.data.splits", "parse_classes": "mnist1d_jax.data.classes",
    "use_classes": "mnist1d_jax.data.classes", "set_classes": "mnist1d_jax.data.classes",
    "current_classes": "mnist1d_jax.data.classes", "max_softmax_auroc": "mnist1d_jax.core.evaluation",
    "write_dataset": "mnist1d_jax.data.stream", "load_streamed": "mnist1d_jax.data.stream_format",
    "enable_compile_cache": "mnist1d_jax.runtime.compile_cache",
}
_SUBMODULES = {  # public submodule name -> where it lives
    "masks": "mnist1d_jax.core.masks", "meta": "mnist1d_jax.meta", "precision": "mnist1d_jax.runtime.precision",
    "representations": "mnist1d_jax.analysis.representations",
}

__all__ = sorted([*_WHERE, *_SUBMODULES, "__version__"])


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    if name in _WHERE:
        value = getattr(importlib.import_module(_WHERE[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'mnist1d_jax' has no attribute {name!r}")


def __dir__():
    return __all__
