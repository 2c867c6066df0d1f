"""Killing ``reproduce`` (Ctrl-C or SIGKILL) leaves no study running and loses nothing that finished; a damaged
state file is rebuilt from the records on disk."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mnist1d_jax.cli import reproduce

ONLY = ["dataset", "ssl", "tsne"]  # the second takes ~20 s: time to kill reproduce while it runs


# The command as a terminal runs it: a suite started with SIGINT ignored (a background job, ``nohup``, some IDE
# runners) passes that on to every child, and Python then never raises KeyboardInterrupt in it; a user pressing
# Ctrl-C in a terminal has Python's handler. The child installs it itself (a ``preexec_fn`` would make subprocess
# fork a multithreaded JAX process, which JAX warns about).
AS_FROM_A_TERMINAL = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
                      "runpy.run_module('mnist1d_jax.cli', run_name='__main__', alter_sys=True)")


def _start(out):
    return subprocess.Popen([sys.executable, "-c", AS_FROM_A_TERMINAL, "reproduce", "--quick", "--only", *ONLY,
                             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _studies_alive(out, parent: int | None = None) -> list[int]:
    """PIDs of study processes writing into ``out`` (their command line names it), ``parent`` excluded."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(out) in cmd and int(entry) != parent and " reproduce " not in cmd:
                pids.append(int(entry))
    return pids


def _wait_for_first_study(out, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out / reproduce.STATE).exists() and _studies_alive(out):
            return
        if proc.poll() is not None:
            pytest.fail(f"reproduce ended early: {proc.communicate()}")
        time.sleep(0.2)
    pytest.fail("no study started")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGKILL, -9)], ids=["SIGINT", "SIGKILL"])
def test_killing_reproduce_stops_its_study_and_a_rerun_resumes(tmp_path, sig, code):
    out = tmp_path / "out"
    proc = _start(out)
    _wait_for_first_study(out, proc)  # dataset finished, the next study running
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode == code
    deadline = time.monotonic() + 10
    while _studies_alive(out) and time.monotonic() < deadline:  # the study dies with its parent
        time.sleep(0.1)
    assert _studies_alive(out) == []
    done = json.loads((out / reproduce.STATE).read_text())
    assert "dataset" in done
    rerun = subprocess.run([sys.executable, "-m", "mnist1d_jax.cli", "reproduce", "--quick", "--only", *ONLY,
                            "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert "dataset: done earlier" in rerun.stdout
    assert set(json.loads((out / reproduce.STATE).read_text())) == set(ONLY)
    assert not list(out.glob(".*.tmp"))  # no temporary file left behind


def test_a_damaged_state_file_is_rebuilt_from_the_records(tmp_path):
    out = tmp_path / "out"
    assert subprocess.run([sys.executable, "-m", "mnist1d_jax.cli", "reproduce", "--quick", "--only", "dataset",
                           "--out", str(out)], capture_output=True).returncode == 0
    (out / reproduce.STATE).write_text('{"dataset": {"quick": tr')  # cut mid-write
    again = subprocess.run([sys.executable, "-m", "mnist1d_jax.cli", "reproduce", "--quick", "--only", "dataset",
                            "--out", str(out)], capture_output=True, text=True)
    assert again.returncode == 0 and "dataset: done earlier" in again.stdout
    assert "reproduce_state.json could not be read" in again.stderr
    report = subprocess.run([sys.executable, "-m", "mnist1d_jax.cli", "reproduce", "--report-only", "--quick",
                             "--out", str(out)], capture_output=True, text=True)
    assert report.returncode == 0


def test_the_ctrl_c_test_passes_when_the_suite_runs_with_sigint_ignored(tmp_path):
    """As under ``nohup`` or in a background job: SIGINT ignored in the process that runs the tests."""
    if os.environ.get("MNIST1D_JAX_INNER_SIGINT_TEST"):
        pytest.skip("already the inner run")

    env = {**os.environ, "MNIST1D_JAX_INNER_SIGINT_TEST": "1"}
    args = ["-q", "-n", "0", "-p", "no:cacheprovider", "-k", "SIGINT", "--basetemp", str(tmp_path / "inner"),
            f"{__file__}::test_killing_reproduce_stops_its_study_and_a_rerun_resumes"]
    inner = f"import signal, sys, pytest; signal.signal(signal.SIGINT, signal.SIG_IGN); sys.exit(pytest.main({args!r}))"
    done = subprocess.run([sys.executable, "-c", inner], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout
