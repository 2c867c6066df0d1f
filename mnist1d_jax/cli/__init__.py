"""The ``mnist1d-jax`` command line (``python -m mnist1d_jax.cli`` runs it too)."""

from mnist1d_jax.cli.app import main, study_main

__all__ = ["main", "study_main"]
