"""Lottery tickets (paper Fig. 3 a-g and the mask figure): figures/lottery.{json,npz,png}, lottery_masks.png

    python scripts/lottery.py  # the paper's protocol, resumable (= mnist1d-jax lottery)
    python scripts/lottery.py --quick --out /tmp/q  # every stage on a tiny config (a smoke test)
    python scripts/lottery.py --trials 1 --rounds 0 50 80 91 99
    python scripts/lottery.py --redraw  # figures again from the record (--help: every option)
"""

import sys

from mnist1d_jax.cli import study_main

if __name__ == "__main__":
    sys.exit(study_main("lottery"))
