"""The public API sits at the top level, documented, and importing it starts no JAX backend."""

import subprocess
import sys

import pytest

import mnist1d_jax as m

PUBLIC = ("DatasetConfig", "make_dataset", "get_dataset", "prepare_data", "create_train_state", "train_step",
          "evaluate", "train_loop", "TrainConfig", "train", "train_seeds", "sweep_widths", "masks", "meta")


def test_the_public_api_is_at_the_top_level_and_documented():
    for name in PUBLIC:
        obj = getattr(m, name)
        assert obj.__doc__ and len(obj.__doc__.strip()) > 60, name
    assert set(PUBLIC) <= set(m.__all__)


def test_importing_the_package_leaves_the_cpu_device_count_open():
    code = ("import mnist1d_jax, jax; jax.config.update('jax_num_cpu_devices', 3); "
            "print(len(jax.devices('cpu')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"JAX_PLATFORMS": "cpu", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "3"


@pytest.mark.parametrize("line, deprecated", [
    ("from mnist1d_jax.compat import get_dataset_args, get_dataset, make_dataset", True),
    ("from mnist1d_jax.backend import use_cpu_cores", True),
    ("from mnist1d_jax.sweeps import default_mlp_widths", True),
    ("from mnist1d_jax.precision import set_precision, use_precision", True),
    ("from mnist1d_jax.representations import nc1", True),
    ("from mnist1d_jax.validation import ConfigError", True),
    ("from mnist1d_jax.compile_cache import enable_compile_cache", True),
    ("from mnist1d_jax.masks import rewind", True),
    ("from mnist1d_jax import masks, meta, precision, representations", False),
    ("from mnist1d_jax.nn import MLP, init_params", False),
    ("from mnist1d_jax.data.classes import parse_classes, use_classes", False),
])
def test_the_names_the_0_1_readme_showed_keep_working(line, deprecated):
    """The import lines of the 0.1 README run in 0.2; a moved module's old path warns that it moved (for one
    release) and is the moved module itself."""
    import importlib
    import sys
    import warnings

    module = line.split()[1]
    if deprecated:
        sys.modules.pop(module, None)  # import the alias afresh, so that its warning is raised here
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(line, {})
    moved = [w for w in caught if issubclass(w.category, DeprecationWarning) and "moved to" in str(w.message)]
    assert bool(moved) == deprecated, [str(w.message) for w in caught]
    if deprecated:
        new_path = str(moved[0].message).split("moved to ")[1].split(";")[0]
        assert sys.modules[module] is importlib.import_module(new_path)
