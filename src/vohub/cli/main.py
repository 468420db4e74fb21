"""Entry point of the ``vohub`` command: one sub-command per module, listed in COMMANDS.

Each sub-command module provides ``add_arguments(parser)`` and ``run(args) -> int`` (the
exit status). Services plug in the same way through their own ``cli`` module.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

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
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser | None]:
    """The top-level parser, and the parser of the command named in ``argv`` (with its full
    arguments; None if ``argv`` names none)."""
    parser = argparse.ArgumentParser(
        prog="vohub", description="vohub: a hub for astronomical transient alerts (VOEvent)."
    )
    sub = parser.add_subparsers(dest="vohub_command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    found = None
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            importlib.import_module(module).add_arguments(command)
            found = command
    return parser, found


def attach_dash_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--flag -value`` written ``--flag=-value`` wherever ``--flag`` takes one
    value and ``-value`` is no flag of ``parser``.

    argparse reads a token that starts with ``-`` (and is not a number) as an option, so a
    descending order (``--order -id``) or a cone at negative RA would fail with "expected one
    argument".

    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--order"), p.add_argument("-v", action="store_true")
    >>> attach_dash_values(p, ["--order", "-id", "--order", "-v"])
    ['--order=-id', '--order', '-v']
    """
    actions = _all_actions(parser)
    known = {flag for action in actions for flag in action.option_strings}
    takes_value = {
        flag for action in actions if action.nargs is None for flag in action.option_strings
    }
    out: list[str] = []
    tokens = iter(argv)
    for token in tokens:
        value = next(tokens, None) if token in takes_value else None
        if value is None:
            out.append(token)
        elif value.startswith("-") and not value.startswith("--") and value not in known:
            out.append(f"{token}={value}")
        else:
            out += [token, value]
    return out


def _all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options of ``parser`` and of its sub-commands (argparse offers no public list)."""
    found: list[argparse.Action] = []
    for action in parser._actions:
        found.append(action)
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                found += _all_actions(command)
    return found


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``vohub`` command line and exit with the sub-command's status."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    parser, command = build_parser(args_in)
    if command is not None:
        args_in = attach_dash_values(command, args_in)
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
