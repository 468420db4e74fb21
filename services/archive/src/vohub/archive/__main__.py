"""Run the archive command line as ``python -m vohub.archive``."""

import sys

from vohub.archive.cli import main

sys.exit(main())
