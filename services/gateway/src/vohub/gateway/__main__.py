"""``python -m vohub.gateway``: the same as ``vohub gateway``."""

import sys

from vohub.gateway.cli import main

sys.exit(main())
