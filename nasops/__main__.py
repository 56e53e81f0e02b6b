"""``python -m nasops``: the same as the ``nasops`` command."""

import sys

from nasops.cli import main

sys.exit(main())
