"""``python -m lvmd``: the same command line as the ``lvmd`` script (useful where scripts are not on PATH)."""

import sys

from lvmd.cli import main

sys.exit(main())
