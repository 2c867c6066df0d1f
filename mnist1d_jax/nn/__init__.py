"""Neural-network pieces: the one init (``nn.init``), the layers, the per-backend convolution and GRU, and the
one model zoo (``nn.models``) every study takes its models from."""

from mnist1d_jax.nn.init import count_params, init_params, lecun_or_torch, torch_bound, uniform, uniform_init
from mnist1d_jax.nn.layers import ACTIVATIONS, Conv1dCLB, Dense, PReLU, make_activation
from mnist1d_jax.nn.models import (
    CNN,
    MLP,
    MODELS,
    BiGRU,
    ContrastiveCNN,
    Logistic,
    get_model,
    width_model,
    width_model_params,
)

__all__ = ["ACTIVATIONS", "BiGRU", "CNN", "ContrastiveCNN", "Conv1dCLB", "Dense", "Logistic", "MLP", "MODELS", "PReLU",
           "count_params", "get_model", "init_params", "lecun_or_torch", "make_activation", "torch_bound", "uniform",
           "uniform_init", "width_model", "width_model_params"]
