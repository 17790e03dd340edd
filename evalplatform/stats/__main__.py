"""``python -m evalplatform.stats FILE ...``: the agreement report of a ratings file (see ``cli.py``)."""

import sys

from evalplatform.stats.cli import main

sys.exit(main())
