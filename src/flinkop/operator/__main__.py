"""``python -m flinkop.operator``: the same as ``flinkop operator``."""

import sys

from flinkop.operator.cli import main

sys.exit(main())
