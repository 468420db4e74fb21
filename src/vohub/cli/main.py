"""Entry point of the ``vohub`` command: one sub-command per module, listed in COMMANDS.

Each sub-command module provides ``add_arguments(parser)`` and ``run(args) -> int`` (the
exit status), and may provide ``prepare_argv(parser, argv) -> list[str]``, a rewrite of the
command line before it is parsed (``vohub query``'s ``--order -id``). Services plug in the
same way through their own ``cli`` module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

#: name -> (module, one-line help). Modules are imported only when their command runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("vohub.cli.up", "run the whole hub (archive, broker, gateway) in one process tree"),
    "validate": ("vohub.cli.validate", "check VOEvent files against their schema"),
    "show": ("vohub.cli.show", "print a human summary of a VOEvent file"),
    "ivorn": ("vohub.cli.ivorn", "print a fresh unique IVORN for a stream"),
    "publish": ("vohub.cli.publish", "send VOEvent files to a VTP broker"),
    "listen": ("vohub.cli.listen", "subscribe to a VTP broker and print, save or handle packets"),
    "archive": ("vohub.archive.cli", "run the archive service; import, export and ingest packets"),
    "broker": ("vohub.broker.cli", "run the VTP broker (authors, subscribers, archive hand-off)"),
    "gateway": ("vohub.gateway.cli", "serve the public HTTP query API with gunicorn"),
    "query": ("vohub.client.cli", "query a vohub or voeventdb archive over HTTP"),
}


def build_parser(
    argv: Sequence[str],
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser | None, ModuleType | None]:
    """The top-level parser, and the parser (with its full arguments) and module of the command
    named in ``argv`` (None, None if ``argv`` names none)."""
    parser = argparse.ArgumentParser(
        prog="vohub", description="vohub: a hub for astronomical transient alerts (VOEvent)."
    )
    sub = parser.add_subparsers(dest="vohub_command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    found, found_module = None, None
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            found, found_module = command, importlib.import_module(module)
            found_module.add_arguments(command)
    return parser, found, found_module


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``vohub`` command line and exit with the sub-command's status."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    parser, command, module = build_parser(args_in)
    prepare = getattr(module, "prepare_argv", None)
    if command is not None and prepare is not None:
        args_in = prepare(command, args_in)
    args = parser.parse_args(args_in)
    module = importlib.import_module(COMMANDS[args.vohub_command][0])
    try:
        status = module.run(args)
    except KeyboardInterrupt:
        status = 130
    except BrokenPipeError:  # the reader went away (``vohub show x.xml | head -1``): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to flush
        status = 1
    sys.exit(status)
