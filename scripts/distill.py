"""Dataset distillation for the Table-1 MLP and CNN: figures/distill.{json,png}

    python scripts/distill.py  # both models, T and the estimator chosen on validation, 10 unseen inits
    python scripts/distill.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/distill.py --models mlp --steps 10 20 40
    python scripts/distill.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("distill"))
