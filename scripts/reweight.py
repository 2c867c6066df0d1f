"""Learning to reweight examples against the noisy double-descent peak: figures/reweight.{json,png}

    python scripts/reweight.py  # plain, reweighted, oracle, MW-Net and pruned MLPs, 9 widths x 3 seeds, resumable
    python scripts/reweight.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/reweight.py --widths 16 47 300 --seeds 0
    python scripts/reweight.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("reweight"))
