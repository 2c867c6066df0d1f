"""mnist1d-jax: the MNIST-1D dataset and the experiments of "Scaling down Deep Learning with MNIST-1D" in JAX.

Data flows one way: `DatasetConfig` -> `make_dataset` (exact NumPy generator) -> device arrays -> the pure
training core -> a study -> a results file -> its figure.
"""

from mnist1d_jax.data.config import ConfigError, DatasetConfig
from mnist1d_jax.data.generator import Dataset, make_dataset
from mnist1d_jax.data.templates import Templates, get_templates

__version__ = "0.1.0"

__all__ = ["ConfigError", "Dataset", "DatasetConfig", "Templates", "get_templates", "make_dataset", "__version__"]
