"""mnist1d-jax: the MNIST-1D dataset and the experiments of "Scaling down Deep Learning with MNIST-1D" in JAX.

Data flows one way, one layer per subpackage: ``data`` (the exact generator, files, splits) -> ``nn`` (the one
init, the layers, the model zoo) -> ``core`` (one train step, one loop, runs over seeds) -> ``masks`` /
``sweeps`` / ``meta`` -> ``studies`` (one module per paper figure) -> ``report`` and ``cli``.

The public API, all pure functions of explicit keys (shapes in each docstring; accuracies in % where a
run reports them, fractions from `train_step` and `evaluate`):

* data: `DatasetConfig`, `make_dataset`, `get_dataset`, `prepare_data` -> `Data`, `sample`;
* training: `create_train_state`, `train_step`, `evaluate`, `train_loop`, `TrainConfig`, `train`, `train_seeds`;
* width sweeps `sweep_widths`, lottery-ticket `masks`, metalearning `meta`.
"""

__version__ = "0.1.0"  # before the imports: data.io writes it into every file

from mnist1d_jax import masks, meta  # noqa: E402
from mnist1d_jax.core.loop import train_loop  # noqa: E402
from mnist1d_jax.core.runs import TrainConfig, train, train_seeds  # noqa: E402
from mnist1d_jax.core.step import TrainState, create_train_state, evaluate, make_optimizer, set_hyperparams, train_step  # noqa: E402
from mnist1d_jax.data.config import ConfigError, DatasetConfig  # noqa: E402
from mnist1d_jax.data.generator import Dataset, make_dataset  # noqa: E402
from mnist1d_jax.data.io import get_dataset, load_dataset, save_dataset  # noqa: E402
from mnist1d_jax.data.sampler import sample  # noqa: E402
from mnist1d_jax.data.splits import Data, prepare_data  # noqa: E402
from mnist1d_jax.data.templates import Templates, get_templates  # noqa: E402
from mnist1d_jax.sweeps import SweepConfig, sweep_widths  # noqa: E402

__all__ = ["ConfigError", "Data", "Dataset", "DatasetConfig", "SweepConfig", "Templates", "TrainConfig", "TrainState",
           "__version__", "create_train_state", "evaluate", "get_dataset", "get_templates", "load_dataset",
           "make_dataset", "make_optimizer", "masks", "meta", "prepare_data", "sample", "save_dataset",
           "set_hyperparams", "sweep_widths", "train", "train_loop", "train_seeds", "train_step"]
