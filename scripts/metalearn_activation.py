"""Metalearn the activation function (paper Fig. 6): figures/metalearn_activation.{json,png}

    python scripts/metalearn_activation.py  # the paper's protocol, resumable (= mnist1d-jax metalearn-activation)
    python scripts/metalearn_activation.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/metalearn_activation.py --g-hidden 100 --seeds 0 1 2
    python scripts/metalearn_activation.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("metalearn_activation"))
