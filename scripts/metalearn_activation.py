"""Paper Fig. 6: metalearn the activation function (EXPERIMENTS.md §6).

    python scripts/metalearn_activation.py [--quick] [-o figures/metalearn_activation] [config options, see --help]

Same as ``mnist1d-jax metalearn-activation``: writes <out>.json, then draws <out>.png from it.
"""

import sys

from mnist1d_jax.cli.meta import main

if __name__ == "__main__":
    sys.exit(main("metalearn-activation", sys.argv[1:]))
