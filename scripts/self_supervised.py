"""SimCLR-style self-supervised learning (the ICML SSL figure): figures/ssl.png and ssl.json

    python scripts/self_supervised.py [--quick] [--out figures] [--redraw]

(Not scripts/ssl.py: a script folder on sys.path would shadow the standard library's ssl module.)
"""

import sys

from mnist1d_jax.backend import main_on_all_cores
from mnist1d_jax.studies.ssl import main

if __name__ == "__main__":
    sys.exit(main_on_all_cores(main))
