"""``vohub listen``: subscribe to a VTP broker and print, save or hand off every packet received.

One line per packet on standard output::

    EVENT <ivorn> role=<role> bytes=<n>[ saved=<path>]

``--filter`` expressions travel to the broker in our ``authenticate`` reply, as Comet's
``--filter`` does, so the broker filters. ``--save DIR`` writes each packet byte for byte to
``DIR/<ivorn as a safe file name>.xml``. ``--exec CMD`` runs CMD (split like a shell would, but
no shell is started) with the packet on its standard input and ``VOHUB_IVORN``/``VOHUB_ROLE`` in
its environment; at most ``--exec-jobs`` run at once, each gets ``--exec-timeout`` seconds before
it is killed with every process it started, and failures are logged without ever blocking the
listener. ``--count N`` exits once the handlers of all N packets have finished. On SIGINT or
SIGTERM, running handlers get a few seconds to finish and waiting ones are not started; each
handler killed or not run is logged with its IVORN. Logs go to standard error.

A packet whose role is none of the VOEvent roles (observation, prediction, utility, test),
which a broker other than vohub may relay, is refused: not printed, saved, handed to
``--exec`` or counted, but logged as a ``listen.refused`` warning with its IVORN and the
reason. It is acked all the same, as every event is: a broker drops a subscriber that naks
(VTP Note §6.4).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shlex
import shutil
import signal
import sys
import urllib.parse
from pathlib import Path

from vohub.cli.argtypes import broker_address, positive_int, positive_seconds
from vohub.common.errors import FolderUnusable
from vohub.common.folders import make_folder
from vohub.common.handlers import CommandFailed, HandlerPool, run_command
from vohub.common.logs import configure, get_logger
from vohub.voevent.errors import InvalidIvorn
from vohub.voevent.ivorn import parse_ivorn
from vohub.vtp.client import Subscription, subscribe
from vohub.vtp.errors import InvalidFilter, UnknownMessage
from vohub.vtp.filters import compile_filters
from vohub.vtp.messages import Event
from vohub.vtp.roles import check_role

log = get_logger("vohub.cli.listen")

#: Longest file name --save writes before shortening with a hash.
MAX_NAME = 200
#: Handler runs allowed to wait for a slot before new ones are dropped.
EXEC_BACKLOG = 1000
#: Seconds running handlers get to finish when the listener is stopped by a signal.
EXEC_GRACE = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``vohub listen`` options."""
    parser.add_argument(
        "--from", dest="source", required=True, type=broker_address, metavar="HOST:PORT",
        help="the broker's broadcast port (Comet's default is 8099)",
    )  # fmt: skip
    parser.add_argument(
        "--filter", dest="filters", action="append", default=[], metavar="XPATH",
        help="XPath 1.0 filter for the broker to apply (repeatable; ORed)",
    )  # fmt: skip
    parser.add_argument("--save", type=Path, metavar="DIR", help="save each packet in DIR")
    parser.add_argument("--exec", dest="exec_command", metavar="CMD", help="run CMD per packet")
    parser.add_argument("--exec-jobs", type=positive_int, default=4, metavar="N",
                        help="handlers at once (default 4)")  # fmt: skip
    parser.add_argument(
        "--exec-timeout", type=positive_seconds, default=60.0, metavar="SECONDS",
        help="seconds before a handler is killed (default 60)",
    )  # fmt: skip
    parser.add_argument("--local-ivo", metavar="IVO", help="our IVOID, sent to the broker")
    parser.add_argument("--count", type=positive_int, metavar="N",
                        help="exit after N packets (default: run until stopped)")  # fmt: skip
    parser.add_argument(
        "--idle-timeout", type=positive_seconds, default=120.0, metavar="SECONDS",
        help="reconnect after this long without a message (default 120, as Comet)",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Listen until SIGINT/SIGTERM (or ``--count`` packets); return 0, or 2 for bad options."""
    configure("listen", level="INFO")
    try:
        compile_filters(args.filters)
        argv = _command(args.exec_command)
        if args.local_ivo is not None:
            parse_ivorn(args.local_ivo, source=f"--local-ivo {args.local_ivo!r}")
        if args.save is not None:
            _make_folder(args.save)
    except (InvalidFilter, InvalidIvorn, ValueError) as exc:
        print(f"vohub listen: error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_listen(args, argv))


def _make_folder(folder: Path) -> None:
    """Create the ``--save`` folder; ValueError naming it if it cannot be one."""
    try:
        make_folder(folder)
    except FolderUnusable as exc:
        raise ValueError(f"--save {exc}") from None


def safe_filename(ivorn: str) -> str:
    """A file name for an IVORN: percent-encoded, reversible, hashed if very long.

    Examples
    --------
    >>> safe_filename("ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820")
    'nasa.gsfc.gcn%2FSWIFT%23BAT_GRB_Pos_558756-820.xml'
    >>> safe_filename("ivo://../../etc/passwd")
    '..%2F..%2Fetc%2Fpasswd.xml'
    """
    name = urllib.parse.quote(ivorn.removeprefix("ivo://"), safe="-_.~+=,@")
    if len(name) > MAX_NAME:
        name = f"{name[: MAX_NAME - 41]}-{hashlib.sha1(ivorn.encode()).hexdigest()}"
    return f"{name}.xml"


def _command(text: str | None) -> list[str] | None:
    if text is None:
        return None
    argv = shlex.split(text)
    if not argv or shutil.which(argv[0]) is None:
        raise ValueError(f"--exec {text!r}: {argv[0] if argv else 'CMD'} is not an executable")
    return argv


async def _listen(args: argparse.Namespace, argv: list[str] | None) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = HandlerRunner(argv, args.exec_jobs, args.exec_timeout) if argv else None
    host, port = args.source
    sub = subscribe(
        host, port, filters=args.filters, local_ivo=args.local_ivo, idle_timeout=args.idle_timeout
    )
    async with sub:
        consumer = asyncio.create_task(_consume(sub, args, runner))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
    await consumer
    if runner is not None:
        await runner.drain(stop)  # after --count: every handler runs, unless a signal comes
        await runner.finish(EXEC_GRACE)
    log.info("listen.stopped")
    return 0


async def _consume(
    sub: Subscription, args: argparse.Namespace, runner: HandlerRunner | None
) -> None:
    received = 0
    async for event in sub:
        try:
            check_role(event)
        except UnknownMessage as exc:
            log.warning("listen.refused", ivorn=event.ivorn, peer=sub.peer, reason=exc.detail)
            continue
        saved = _save(event, args.save) if args.save is not None else None
        suffix = f" saved={saved}" if saved else ""
        print(f"EVENT {event.ivorn} role={event.role} bytes={len(event.raw)}{suffix}", flush=True)
        if runner is not None:
            runner.submit(event)
        received += 1
        if args.count is not None and received >= args.count:
            return


def _save(event: Event, folder: Path) -> Path | None:
    path = folder / safe_filename(event.ivorn)
    partial = path.with_name(f".{path.name}.part")
    try:
        partial.write_bytes(event.raw)
        os.replace(partial, path)
    except OSError as exc:
        log.error("listen.save.failed", ivorn=event.ivorn, path=str(path), error=str(exc))
        return None
    return path


class HandlerRunner:
    """Runs the ``--exec`` command per packet in the background, bounded in number and time."""

    def __init__(self, argv: list[str], jobs: int, timeout: float) -> None:
        self.argv = argv
        self.timeout = timeout
        self._pool = HandlerPool(
            self._run, concurrency=jobs, backlog=EXEC_BACKLOG, stopped=self._stopped
        )

    def submit(self, event: Event) -> None:
        """Schedule a run for ``event``; drop it (logged) if the backlog is full."""
        if not self._pool.submit(event):
            log.warning("listen.exec.dropped", ivorn=event.ivorn, backlog=EXEC_BACKLOG)

    async def drain(self, stop: asyncio.Event) -> None:
        """Wait until every handler submitted so far has finished, or ``stop`` is set."""
        await self._pool.drain(stop)

    async def finish(self, grace: float) -> None:
        """Start no more handlers; wait up to ``grace`` seconds for running ones, then kill them."""
        await self._pool.stop(grace)

    async def _run(self, event: Event) -> None:
        env = {**os.environ, "VOHUB_IVORN": event.ivorn, "VOHUB_ROLE": event.role}
        try:
            await run_command(
                self.argv, event.raw, time_limit=self.timeout, env=env,
                stdout=sys.stderr, capture_stderr=False,
            )  # fmt: skip
        except CommandFailed as exc:
            if exc.reason == "timeout":
                log.warning("listen.exec.timeout", ivorn=event.ivorn, timeout_s=self.timeout)
            else:
                log.warning("listen.exec.failed", ivorn=event.ivorn, error=str(exc))
        else:
            log.info("listen.exec.done", ivorn=event.ivorn)

    @staticmethod
    def _stopped(event: Event, started: bool) -> None:
        name = "listen.exec.killed" if started else "listen.exec.skipped"
        log.warning(name, ivorn=event.ivorn, reason="stopping")
