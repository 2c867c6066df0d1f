"""A learned optimiser meta-trained by PES on the Table-1 MLP: figures/learned_optimizer.{json,png}

    python scripts/learned_optimizer.py  # tune Adam and SGD, meta-train, evaluate on 10 unseen seeds and 5 settings
    python scripts/learned_optimizer.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/learned_optimizer.py --outer-steps 2000 --pairs 16
    python scripts/learned_optimizer.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("learned_optimizer"))
