"""SimCLR-style self-supervised learning (the ICML SSL figure): figures/ssl.png and ssl.json

    python scripts/ssl.py [--quick] [--out figures] [--redraw]
"""

import sys

from mnist1d_jax.studies.ssl import main

if __name__ == "__main__":
    sys.exit(main())
