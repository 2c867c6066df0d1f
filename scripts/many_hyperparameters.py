"""A weight decay per parameter of the Table-1 MLP (15,210 hyperparameters): figures/many_hyperparameters.{json,png}

    python scripts/many_hyperparameters.py  # no decay, the best single decay, implicit and truncated, 5 seeds
    python scripts/many_hyperparameters.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/many_hyperparameters.py --inner-steps 100 --methods implicit
    python scripts/many_hyperparameters.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("many_hyperparameters"))
