"""Deprecated alias of ``mnist1d_jax.runtime.backend``.

Moved there in 0.2; this alias goes in the release after."""

import sys
import warnings

import mnist1d_jax.runtime.backend as _moved

warnings.warn(
    "mnist1d_jax.backend moved to mnist1d_jax.runtime.backend; import it from there", DeprecationWarning, stacklevel=2
)
sys.modules[__name__] = _moved  # the alias is the module itself: its globals, patching and identity included
