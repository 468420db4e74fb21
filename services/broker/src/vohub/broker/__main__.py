"""Run the broker: ``python -m vohub.broker [flags]`` is ``vohub broker [flags]``."""

import argparse
import sys

from vohub.broker import cli

parser = argparse.ArgumentParser(prog="vohub broker")
cli.add_arguments(parser)
sys.exit(cli.run(parser.parse_args()))
