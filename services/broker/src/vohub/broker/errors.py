"""The exceptions of :mod:`vohub.broker`: one type per failure, each naming its culprit."""

from __future__ import annotations


class BrokerError(Exception):
    """Base of this package's errors; never raised itself.

    >>> str(SpoolCorrupt("spool/0000000000000001.seg", "bad CRC at offset 52"))
    'spool/0000000000000001.seg: bad CRC at offset 52'
    """

    def __init__(self, culprit: str, message: str) -> None:
        if type(self) is BrokerError:
            raise TypeError("BrokerError is abstract; raise one of its subclasses")
        self.culprit = culprit
        self.message = message
        super().__init__(f"{culprit}: {message}")


class SpoolCorrupt(BrokerError):
    """A spool file cannot be read: a checkpoint that is not a sequence number, or a damaged
    record met by a running reader (damage found at start-up is set aside, not raised)."""


class SeenStoreUnusable(BrokerError):
    """The dedup database cannot be opened: not an SQLite database, or not writable."""


class SpoolInUse(BrokerError):
    """Another process (a second broker on the same data folder) holds the spool's lock."""


class SpoolClosed(BrokerError):
    """A packet was appended to a spool that has been closed (the broker is stopping)."""


class HandlerFailed(BrokerError):
    """A local ``--exec`` handler exited non-zero, timed out or could not start.

    ``reason`` is ``exit``, ``timeout`` or ``start`` (the metric's label).
    """

    def __init__(self, ivorn: str, message: str, *, reason: str) -> None:
        super().__init__(ivorn, message)
        self.reason = reason
