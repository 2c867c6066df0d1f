"""Lottery tickets (paper Fig. 3 a-g and the appendix mask figure): figures/lottery.png, lottery_masks.png and
lottery.json.

    python scripts/lottery.py                 # the full study: 2 trials x 2 criteria x 100 rounds + ablations
    python scripts/lottery.py --quick         # 1 trial, 12 rounds around the interesting sparsities
    python scripts/lottery.py --trials 1 --rounds 0 20 40 60 80 85 88 90 91 93 95 97 99   # a subset
    python scripts/lottery.py --redraw        # redraw the figures from the saved numbers

The search resumes from figures/lottery_state.npz after an interruption (same config).
"""

import sys

from mnist1d_jax.studies.lottery import main

if __name__ == "__main__":
    sys.exit(main())  # one CPU device: see SINGLE_DEVICE_COMMANDS in mnist1d_jax/cli.py
