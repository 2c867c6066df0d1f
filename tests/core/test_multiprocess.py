"""Two real ``jax.distributed`` processes x 2 CPU devices run the many-run calls unchanged (multiprocess_worker.py).

The job's four devices split the run axis; each process must hold every result, only process 0 writes, and the
numbers must be the one-process numbers (one device, no split) within float32 rounding.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

WORKER = Path(__file__).with_name("multiprocess_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(process_id: int, processes: int, devices: int, port: int, out: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS" or "device_count" not in v}
    return subprocess.Popen([sys.executable, str(WORKER), str(process_id), str(processes), str(devices), str(port),
                             str(out)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(procs: list[subprocess.Popen], timeout: float = 420) -> None:
    try:
        logs = [p.communicate(timeout=timeout)[0] for p in procs]
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail("a multi-process worker hung (killed)")
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-3000:]


def test_two_processes_return_the_one_process_numbers(tmp_path):
    port = _free_port()
    job, alone = tmp_path / "two_processes", tmp_path / "one_process"
    procs = [_launch(i, 2, 2, port, job) for i in range(2)] + [_launch(0, 1, 1, 0, alone)]
    _finish(procs)

    first, second = (dict(np.load(job / f"process{i}.npz")) for i in range(2))
    reference = dict(np.load(alone / "process0.npz"))
    np.testing.assert_array_equal(first["devices"], [4, 2])  # 4 global devices in 2 processes
    np.testing.assert_array_equal(reference["devices"], [1, 1])
    assert (job / "written_by.txt").read_text() == "0\n" and not (alone / "process1.npz").exists()
    assert (job / "study" / "classwise_errors.json").exists()  # one study folder, written once
    for name in reference:
        if name == "devices":
            continue
        gap = np.max(np.abs(first[name] - reference[name]) / np.maximum(np.abs(reference[name]), 1e-30))
        print(f"{name} {first[name].shape}: processes agree: {np.array_equal(first[name], second[name])}; "
              f"2 processes x 2 devices vs 1 x 1: max relative difference {gap:.2e}")  # shown by pytest -s
        np.testing.assert_array_equal(first[name], second[name], err_msg=f"{name}: processes disagree")
        # Same runs, split over 4 devices instead of 1: equal up to float32 rounding (see README, Scale out).
        np.testing.assert_allclose(first[name], reference[name], rtol=1e-4, atol=1e-5, err_msg=name)
