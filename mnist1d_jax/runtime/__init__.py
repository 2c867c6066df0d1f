"""The bottom layer: what every other layer may use, and nothing that knows about MNIST-1D.

* ``backend``: the devices, CPU-only options (cores, device count);
* ``precision``: the matmul precision policy (float32 by default; tf32 / bf16 on request);
* ``validation``: ``ConfigError`` and the validated-config helpers every ``Config`` is built from;
* ``compile_cache``: JAX's persistent compilation cache;
* ``results``: atomic file writes, JSON records with provenance (versions, git commit, devices);
* ``store``: the store of partial results a study resumes from;
* ``figures``: a figure written atomically;
* ``version``: the package's version.

Importing this package loads nothing; each module is imported on its own.
"""
