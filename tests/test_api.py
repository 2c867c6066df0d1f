"""The public API sits at the top level, documented, and importing it starts no JAX backend."""

import subprocess
import sys

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
