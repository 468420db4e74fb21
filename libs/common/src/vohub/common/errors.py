"""The exceptions of :mod:`vohub.common`: configuration and address errors, naming the key."""

from __future__ import annotations


class CommonError(Exception):
    """Base of this package's errors; never raised itself."""

    def __init__(self, key: str, message: str) -> None:
        if type(self) is CommonError:
            raise TypeError("CommonError is abstract; raise one of its subclasses")
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


class ConfigError(CommonError):
    """A configuration value is missing, unknown, mistyped or fails its check.

    >>> str(ConfigError("broker.whitelist[2]", "not a CIDR network"))
    'broker.whitelist[2]: not a CIDR network'
    """


class FolderUnusable(CommonError, OSError):
    """A data folder cannot be created or used (a file in its place, no permission).

    >>> str(FolderUnusable("var/broker", "not a folder: a file is in the way"))
    'var/broker: not a folder: a file is in the way'
    """


class AddressError(CommonError, ValueError):
    """A ``HOST:PORT`` address that cannot be used."""


class BindError(CommonError, OSError):
    """A server cannot listen on its address (in use, or not an address of this machine).

    >>> str(BindError("127.0.0.1:50051", "cannot listen here: address in use or not local"))
    '127.0.0.1:50051: cannot listen here: address in use or not local'
    """
