"""The ``mnist1d-jax`` command line (``python -m mnist1d_jax.cli`` runs it too)."""

from mnist1d_jax.cli.app import main

__all__ = ["main"]
