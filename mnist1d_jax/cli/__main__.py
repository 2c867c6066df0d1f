import sys

from mnist1d_jax.cli.app import main

sys.exit(main())
