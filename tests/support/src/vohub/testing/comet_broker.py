"""Run a real Comet 3.1.0 broker on 127.0.0.1 for interoperability tests.

Comet lives in its own virtual environment (``.peers/comet``, built by ``scripts/install-peers``
on Debian's Python so that its dedup store is ``dbm.ndbm``). It is started through
:mod:`vohub.testing.comet_launcher`, which pins its listening sockets to loopback, and counts as
ready once every port it serves accepts a TCP connection.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from vohub.testing import comet_launcher
from vohub.testing.errors import PeerMissing, PortNotServed
from vohub.testing.ports import LOOPBACK, free_port, port_open
from vohub.testing.process import SupervisedProcess

#: Environment variable naming Comet's virtual environment, overriding the search.
COMET_VENV_ENV = "VOHUB_COMET_VENV"
#: Default IVOID of brokers started here.
DEFAULT_LOCAL_IVO = "ivo://vohub.test/comet"
#: Seconds Comet gets to open its ports.
START_DEADLINE = 30.0


def find_comet_venv(start: Path | None = None) -> Path:
    """Locate Comet's virtual environment: ``$VOHUB_COMET_VENV``, else ``.peers/comet`` upwards.

    Parameters
    ----------
    start
        Folder to search upwards from (default: this file's folder).

    Raises
    ------
    PeerMissing
        If no environment with ``bin/twistd`` is found; the message says how to install it.

    Examples
    --------
    >>> (find_comet_venv() / "bin" / "twistd").is_file()
    True
    """
    override = os.environ.get(COMET_VENV_ENV)
    origin = (start or Path(__file__)).resolve()
    folders = [origin, *origin.parents]
    candidates = [Path(override)] if override else [d / ".peers" / "comet" for d in folders]
    for venv in candidates:
        if (venv / "bin" / "twistd").is_file():
            return venv
    raise PeerMissing(
        f"Comet 3.1.0 not found ({override or '.peers/comet'}): run scripts/install-peers"
    )


@dataclass
class CometOptions:
    """Command-line options of one ``twistd comet`` broker (see Comet's ``--help``)."""

    local_ivo: str = DEFAULT_LOCAL_IVO
    receive: bool = True
    broadcast: bool = True
    receive_port: int | None = None  # None: a free port
    broadcast_port: int | None = None  # None: a free port
    remotes: Sequence[str] = ()
    filters: Sequence[str] = ()
    cmd: str | None = None
    test_interval: int = 0
    verbose: bool = True
    extra: Sequence[str] = field(default_factory=tuple)


class CometBroker:
    """A running Comet broker with its ports, event database and captured log.

    Use :func:`start_comet` to create one; stop it with :meth:`stop` or a ``with`` block.
    """

    def __init__(
        self, options: CometOptions, workdir: Path, venv: Path, name: str = "comet"
    ) -> None:
        self.options = options
        self.workdir = workdir
        self.venv = venv
        self.name = name
        self.host = LOOPBACK
        self.receive_port = (options.receive_port or free_port()) if options.receive else None
        self.broadcast_port = (options.broadcast_port or free_port()) if options.broadcast else None
        self.eventdb = workdir / f"{name}-eventdb"
        self.process = SupervisedProcess(
            name, self.argv(), log_dir=workdir, env=_clean_env(), cwd=workdir
        )

    @property
    def local_ivo(self) -> str:
        """The broker's IVOID."""
        return self.options.local_ivo

    @property
    def receive_address(self) -> tuple[str, int]:
        """``(host, port)`` of the author (receive) port."""
        return self.host, _required(self.receive_port, "receive")

    @property
    def broadcast_address(self) -> tuple[str, int]:
        """``(host, port)`` of the subscriber (broadcast) port."""
        return self.host, _required(self.broadcast_port, "broadcast")

    def argv(self) -> list[str]:
        """The full command line: Comet's python, the loopback launcher, twistd's arguments."""
        o = self.options
        args = [str(self.venv / "bin" / "python"), comet_launcher.__file__, "-n"]
        args += ["--pidfile", str(self.workdir / f"{self.name}.pid"), "comet"]
        args += ["--local-ivo", o.local_ivo, "--eventdb", str(self.eventdb)]
        args += ["--broadcast-test-interval", str(o.test_interval)]
        if self.receive_port is not None:
            args += ["--receive", "--receive-port", str(self.receive_port)]
        if self.broadcast_port is not None:
            args += ["--broadcast", "--broadcast-port", str(self.broadcast_port)]
        for remote in o.remotes:
            args += ["--remote", remote]
        for expression in o.filters:
            args += ["--filter", expression]
        if o.cmd is not None:
            args += ["--cmd", o.cmd]
        return [*args, *(["-v"] if o.verbose else []), *o.extra]

    def start(self, deadline: float = START_DEADLINE) -> Self:
        """Start Comet and wait until each of its ports accepts connections.

        Raises
        ------
        ProcessFailed
            If it exits or is not listening in time; quotes its log.
        """
        ports = [p for p in (self.receive_port, self.broadcast_port) if p is not None]
        self.process.start()
        self.process.wait_ready(lambda: all(port_open(p) for p in ports), deadline)
        return self

    def log(self) -> str:
        """Comet's log so far."""
        return self.process.output()

    def wait_for_log(self, text: str, deadline: float = 10.0) -> None:
        """Wait until ``text`` appears in Comet's log.

        Raises
        ------
        ProcessFailed
            If it does not in time.
        """
        self.process.wait_output(text, deadline)

    def stop(self) -> int:
        """Stop Comet (SIGTERM, then SIGKILL and an error if it hangs); return its status."""
        return self.process.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_comet(
    workdir: str | os.PathLike[str],
    options: CometOptions | None = None,
    *,
    venv: Path | None = None,
    name: str = "comet",
) -> CometBroker:
    """Start a Comet broker on 127.0.0.1 with fresh ports and event database under ``workdir``.

    Parameters
    ----------
    workdir
        Folder for its pid file, event database and log.
    options
        What to run (default: receive and broadcast, no test events, verbose log).
    venv
        Comet's virtual environment (default: :func:`find_comet_venv`).
    name
        Used for its files and in errors.

    Returns
    -------
    CometBroker
        Already listening.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp, start_comet(tmp) as comet:
    ...     port_open(comet.receive_address[1]) and port_open(comet.broadcast_address[1])
    True
    """
    path = Path(workdir)
    path.mkdir(parents=True, exist_ok=True)
    broker = CometBroker(options or CometOptions(), path, venv or find_comet_venv(), name)
    return broker.start()


def _clean_env() -> dict[str, str]:
    # Comet's interpreter must see its own site-packages only, never our venv or PYTHONPATH.
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _required(port: int | None, which: str) -> int:
    if port is None:
        raise PortNotServed(f"this Comet was started without --{which}")
    return port
