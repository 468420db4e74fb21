"""``python -m vohub.client``: the same as ``vohub query``."""

import sys

from vohub.client.cli import main

sys.exit(main())
