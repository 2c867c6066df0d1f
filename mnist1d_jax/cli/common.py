"""What every command of the ``mnist1d-jax`` CLI shares: its name, its one-line errors, its argparse types,
and the link that makes a study started by ``reproduce`` die with it."""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
from pathlib import Path

PROG = "mnist1d-jax"
DIE_WITH_PARENT = "MNIST1D_JAX_DIE_WITH_PARENT"  # set by ``reproduce`` for the studies it starts


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (``reproduce`` sets this up for its studies, so no
    study outlives it); a no-op elsewhere."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before we asked
        os._exit(137)


class UsageError(Exception):
    """Bad input found before any work (exit status 2)."""


class OneLineParser(argparse.ArgumentParser):
    """argparse with its errors as one line (``prog: error: message``, exit status 2), no usage dump."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def command_name(study: str) -> str:
    return study.replace("_", "-")


def output_path(text: str) -> Path:
    """An argparse type: a path, never empty (argparse would turn "" into the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text)
