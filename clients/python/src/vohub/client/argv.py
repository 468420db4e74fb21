"""Command-line values that start with a dash: ``--order -id``, ``--cone -40.3,-34.85,5``.

argparse reads any token that starts with ``-`` (and is not a plain negative number) as an
option, so ``--order -id`` failed with "expected one argument". :func:`attach_dash_values`
rewrites such a pair as ``--order=-id``, the one spelling argparse takes as a value.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def attach_dash_values(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--flag -value`` written ``--flag=-value`` wherever ``--flag`` (or an
    unambiguous abbreviation of it) takes one value and ``-value`` is no option of ``parser``
    or of its sub-commands. A value starting with ``--``, or an option's own name, stays an
    option; so does everything after ``--``.

    >>> p = argparse.ArgumentParser()
    >>> _ = p.add_argument("--order"), p.add_argument("-v", action="store_true")
    >>> attach_dash_values(p, ["--order", "-id", "--ord", "-ivorn", "--order", "-v"])
    ['--order=-id', '--ord=-ivorn', '--order', '-v']
    >>> attach_dash_values(p, ["--order", "--max", "--", "--order", "-id"])
    ['--order', '--max', '--', '--order', '-id']
    """
    actions = _all_actions(parser)
    known = {flag for action in actions for flag in action.option_strings}
    takes_value = {
        flag for action in actions if action.nargs is None for flag in action.option_strings
    }
    out: list[str] = []
    rest = list(argv)
    while rest:
        token = rest.pop(0)
        if token == "--":
            return [*out, token, *rest]
        value = rest[0] if rest else ""
        if (
            _takes_value(token, known, takes_value)
            and value.startswith("-")
            and not value.startswith("--")
            and value not in known
        ):
            out.append(f"{token}={rest.pop(0)}")
        else:
            out.append(token)
    return out


def _takes_value(token: str, known: set[str], takes_value: set[str]) -> bool:
    """Whether ``token`` names an option that takes one value: its name, or an abbreviation
    of long options that all do (argparse itself refuses an ambiguous one)."""
    if token in known:
        return token in takes_value
    if not token.startswith("--") or "=" in token:
        return False
    meant = [flag for flag in known if flag.startswith(token)]
    return bool(meant) and all(flag in takes_value for flag in meant)


def _all_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The options of ``parser`` and of its sub-commands (argparse offers no public list)."""
    found: list[argparse.Action] = []
    for action in parser._actions:
        found.append(action)
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                found += _all_actions(command)
    return found
