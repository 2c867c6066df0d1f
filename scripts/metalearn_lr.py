"""Paper Fig. 5: metalearn the SGD learning rate (EXPERIMENTS.md §5).

    python scripts/metalearn_lr.py [--quick] [-o figures/metalearn_lr] [config options, see --help]

Same as ``mnist1d-jax metalearn-lr``: writes <out>.json, then draws <out>.png from it.
"""

import sys

from mnist1d_jax.cli.meta import main

if __name__ == "__main__":
    sys.exit(main("metalearn-lr", sys.argv[1:]))
