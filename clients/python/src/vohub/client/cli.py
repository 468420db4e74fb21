"""``vohub query``: query a vohub (or voeventdb) archive from the shell as a table, JSON or CSV."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from itertools import islice
from typing import Any, TypeVar

from astropy.coordinates import Angle
from astropy.units import UnitsError

from vohub.client.argv import attach_dash_values
from vohub.client.client import DEFAULT_HOST, MAP_KINDS, Client, map_kind
from vohub.client.errors import (
    BadRequest,
    ConnectionFailed,
    InvalidFilter,
    InvalidHost,
    NoApiV2,
    ServerUnavailable,
    TimedOut,
    UnexpectedReply,
    VohubHTTPError,
)
from vohub.client.output import (
    SYNOPSIS_COLUMNS,
    emit,
    field_rows,
    map_rows,
    synopsis_json,
    synopsis_row,
)

T = TypeVar("T")

#: List orders, as both APIs name them (``-``: descending).
ORDERS = ("id", "-id", "author_datetime", "-author_datetime", "ivorn", "-ivorn")


#: Sub-command -> its help. The tuples below say which take filters, show a page of results
#: or name a packet.
COMMANDS = {
    "count": "how many packets match the filters",
    "list": "the IVORNs of the matching packets",
    "packets": "a synopsis row for each matching packet",
    "map": "counts of the matching packets by stream, role, stream and role, or month",
    "synopsis": "one packet's synopsis: time, positions, citations",
    "xml": "one packet's XML as stored",
    "citations": "the packets citing, or cited by, one packet, and so on out to --depth",
}
FILTERED = ("count", "list", "packets", "map")
PAGED = ("list", "packets")
BY_IVORN = ("synopsis", "xml", "citations")


#: What :func:`run` returns, for ``--help``.
EXIT_STATUS = (
    "Exit status: 0 on an answer; 1 on an HTTP error or an answer that is not the API's; 2 on "
    "bad input, whether refused here or by the server (HTTP 400); 3 when the server cannot be "
    "reached, is too slow, or answers 503 (its archive is unreachable) after every retry."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``vohub query``: one sub-command per request, each with the flags it uses.

    The connection flags (``--host``, ``--api``, ``--format``, ``--timeout``) may come before
    or after the sub-command.
    """
    parser.epilog = EXIT_STATUS
    _add_connection_flags(parser, defaults=True)
    sub = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    for name, help_text in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == "map":
            command.add_argument("kind", type=_map_kind, metavar="KIND",
                                 help=f"one of {', '.join(MAP_ARGS)}")  # fmt: skip
        if name in BY_IVORN:
            command.add_argument("ivorn", help="the packet's IVORN")
        _add_connection_flags(command, defaults=False)
        if name in PAGED:
            command.add_argument("--max", type=_at_least(0), default=1000,
                                 help="most packets to show (0: all; default 1000)")  # fmt: skip
            command.add_argument("--order", choices=ORDERS, metavar="ORDER",
                                 help=f"one of {', '.join(ORDERS)}")  # fmt: skip
        if name == "citations":
            command.add_argument("--depth", type=_at_least(0), default=5,
                                 help="list the citations made or received by packets up "
                                 "to this many citations away (0: the packet's own; "
                                 "default 5)")  # fmt: skip
        if name in FILTERED:
            add_filter_arguments(command)


def _add_connection_flags(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The flags every sub-command shares. Given on ``vohub query`` itself they carry the
    defaults; a sub-command's copies default to nothing, so they only override a given value."""

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    parser.add_argument("--host", default=default(DEFAULT_HOST),
                        help=f"server URL (default {DEFAULT_HOST})")  # fmt: skip
    parser.add_argument("--api", choices=["v1", "v2"], default=default("v2"),
                        help="v1 talks to a plain voeventdb (default v2)")  # fmt: skip
    parser.add_argument("--format", choices=["table", "json", "csv"], default=default("table"),
                        help="output (default table)")  # fmt: skip
    parser.add_argument("--timeout", type=_at_least(0.001, float), default=default(30.0),
                        metavar="SECONDS",
                        help="longest wait for each answer (default 30)")  # fmt: skip


def _map_kind(text: str) -> str:
    """An argparse type: a map kind as the API names it, from either of its names.

    >>> _map_kind("stream"), _map_kind("role_count")
    ('stream_count', 'role_count')
    """
    kind = map_kind(text)
    if kind is None:
        raise argparse.ArgumentTypeError(f"give one of {', '.join(MAP_ARGS)}, not {text!r}")
    return kind


def _at_least(low: float, kind: type = int) -> Any:
    """An argparse type: a number of ``kind`` no smaller than ``low``.

    >>> _at_least(0)("12")
    12
    >>> _at_least(0)("-1")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: expected a number of at least 0, got '-1'
    """

    def convert(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(f"expected a number of at least {low:g}, got {text!r}")
        return value

    return convert


#: Map kinds as the command takes them (the API's names without ``_count`` work too).
MAP_ARGS = tuple(kind.removesuffix("_count") for kind in MAP_KINDS)


#: Flags that may be given several times, with their help.
REPEATABLE = {
    "stream": "stream, e.g. nasa.gsfc.gcn/SWIFT (any of those given)",
    "stream_prefix": "stream starts with, e.g. nasa.gsfc.gcn/ (any; v2 only)",
    "role": "observation, prediction, utility or test (any of those given)",
    "ivorn_prefix": "IVORN starts with (any of those given)",
    "ivorn_contains": "IVORN contains (all of those given)",
    "ref_exact": "cites this IVORN (any of those given)",
    "ref_contains": "cites an IVORN containing this (any of those given)",
}
#: argparse destination -> filter key, for every filter flag.
FILTER_FLAGS = {
    **{name: name for name in REPEATABLE},
    **{name: name for name in ("cone", "event_since", "event_until", "dec_gt", "dec_lt")},
    **{name: name for name in ("cited", "coord", "ref_any")},
    "since": "authored_since",
    "until": "authored_until",
}


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The filter flags: repeatable ones take several values (ORed, except ivorn-contains)."""
    group = parser.add_argument_group("filters")
    for name, help_text in REPEATABLE.items():
        group.add_argument(
            f"--{name.replace('_', '-')}", action="append", metavar="TEXT", help=help_text
        )
    group.add_argument("--cone", metavar="RA,DEC,RADIUS",
                       help="a position within RADIUS: degrees, or with units: "
                       "17h42m42s,-27d41m,3d")  # fmt: skip
    group.add_argument("--since", metavar="ISO", help="authored at or after (UTC)")
    group.add_argument("--until", metavar="ISO", help="authored at or before (UTC)")
    group.add_argument("--event-since", metavar="ISO", help="a position observed at or after (v2)")
    group.add_argument("--event-until", metavar="ISO", help="a position observed at or before (v2)")
    group.add_argument("--dec-gt", type=float, metavar="DEG", help="a position with Dec above")
    group.add_argument("--dec-lt", type=float, metavar="DEG", help="a position with Dec below")
    for name, help_text in (("cited", "cited by another packet"), ("coord", "has a position"),
                            ("ref-any", "cites another packet")):  # fmt: skip
        group.add_argument(f"--{name}", choices=["true", "false"], help=f"{help_text}, or not")


def filters_from(args: argparse.Namespace) -> dict[str, Any]:
    """The filter dict the flags describe.

    >>> ns = argparse.Namespace(stream=["a/b"], cone="10,20,3", since="2016-09-01", cited=None)
    >>> filters_from(ns)
    {'stream': ['a/b'], 'cone': (10.0, 20.0, 3.0), 'authored_since': '2016-09-01'}
    """
    found: dict[str, Any] = {}
    for attr, value in vars(args).items():
        key = FILTER_FLAGS.get(attr)
        if key is not None and value is not None:
            found[key] = _cone(value) if key == "cone" else value
    return found


def _cone(text: str) -> tuple[float, float, float]:
    """RA, Dec and radius in degrees from ``RA,DEC,RADIUS``: numbers in degrees, or angles with
    their units (``17h42m42s,-27d41m,30arcmin``).

    >>> _cone("265.677,-30d30m,30arcmin")
    (265.677, -30.5, 0.5)
    """
    parts = text.strip("[]() ").split(",")
    if len(parts) != 3:
        raise InvalidFilter("cone", f"expected RA,DEC,RADIUS, not {text!r}")
    ra, dec, radius = (_degrees(part.strip()) for part in parts)
    return ra, dec, radius


def _degrees(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:  # with units only: a bare 17:42:42 could be hours or degrees
        return float(Angle(text).deg)
    except (ValueError, UnitsError):
        raise InvalidFilter(
            "cone", f"{text!r} is not an angle: give degrees, or units as in 17h42m42s or 30arcmin"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Run one query and print its result; the exit status is as :data:`EXIT_STATUS` says."""
    try:
        with Client(args.host, api=args.api, timeout=args.timeout) as client:
            return _dispatch(client, args)
    except (InvalidFilter, InvalidHost, BadRequest) as exc:
        print(f"vohub query: {exc}", file=sys.stderr)
        return 2
    except (ConnectionFailed, TimedOut, ServerUnavailable) as exc:
        print(f"vohub query: {exc}", file=sys.stderr)
        return 3
    except NoApiV2 as exc:
        print(f"vohub query: {exc.advising('--api v1')}", file=sys.stderr)
        return 1
    except (VohubHTTPError, UnexpectedReply) as exc:
        print(f"vohub query: {exc}", file=sys.stderr)
        return 1


def _dispatch(client: Client, args: argparse.Namespace) -> int:
    filters = filters_from(args)
    if args.what == "count":
        n = client.count(filters)
        emit(args.format, ["count"], [[n]], {"count": n})
    elif args.what == "list":
        ivorns = first(client.ivorns(filters, order=args.order), args.max or None)
        emit(args.format, ["ivorn"], [[i] for i in ivorns], ivorns)
    elif args.what == "packets":
        found = first(client.packets(filters, order=args.order), args.max or None)
        items = [synopsis_json(s) for s in found]
        emit(args.format, list(SYNOPSIS_COLUMNS), [synopsis_row(d) for d in items], items)
    elif args.what == "map":
        result = client.map(args.kind, filters)
        emit(args.format, *map_rows(result, nested=args.kind == "stream_role_count"), result)
    elif args.what == "synopsis":
        data = synopsis_json(client.synopsis(args.ivorn))
        emit(args.format, ["field", "value"], field_rows(data), data)
    elif args.what == "citations":
        network = client.citation_network(args.ivorn, max_depth=args.depth)
        cited_by = {cited: sorted(citing) for cited, citing in sorted(network.items())}
        rows = [[cited, c] for cited, citing in cited_by.items() for c in citing]
        emit(args.format, ["cited", "cited_by"], rows, cited_by)
    else:
        sys.stdout.buffer.write(client.xml(args.ivorn))
    return 0


def first(items: Iterable[T], limit: int | None) -> list[T]:
    """The first ``limit`` of ``items`` (all if None); when more were left, says so on stderr.

    >>> first(iter("abc"), None)
    ['a', 'b', 'c']
    >>> first(iter("abc"), 2)
    ['a', 'b']
    """
    taken = list(islice(items, None if limit is None else limit + 1))
    if limit is not None and len(taken) > limit:
        print(f"vohub query: showing the first {limit}; more match (--max 0 shows all)",
              file=sys.stderr)  # fmt: skip
        del taken[limit:]
    return taken


def prepare_argv(parser: argparse.ArgumentParser, argv: Sequence[str]) -> list[str]:
    """The command line with values that start with a dash attached to their flags
    (``--order -id`` -> ``--order=-id``, ``--cone -40.3,-34.85,5``): argparse would read them
    as options. ``vohub query`` calls this before parsing, as :func:`main` does."""
    return attach_dash_values(parser, argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m vohub.client``."""
    parser = argparse.ArgumentParser(prog="vohub query", description=__doc__)
    add_arguments(parser)
    args = sys.argv[1:] if argv is None else argv
    return run(parser.parse_args(prepare_argv(parser, args)))
