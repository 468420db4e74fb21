"""The client's exceptions: one per failure kind, each naming the parameter or IVORN at fault."""

from __future__ import annotations


class VohubError(Exception):
    """Base of every error this package raises."""


class VohubHTTPError(VohubError):
    """The server refused the request; carries the status, the parameter at fault and the URL.

    >>> err = BadRequest(400, "not a boolean: 'maybe'", "cited", "http://h/apiv1/count")
    >>> str(err)
    "HTTP 400 for parameter 'cited': not a boolean: 'maybe' (http://h/apiv1/count)"
    """

    def __init__(self, status: int, message: str, parameter: str | None, url: str) -> None:
        if type(self) is VohubHTTPError:
            raise TypeError("VohubHTTPError is abstract; raise one of its subclasses")
        self.status = status
        self.message = message
        self.parameter = parameter
        self.url = url
        where = f" for parameter {parameter!r}" if parameter else ""
        super().__init__(f"HTTP {status}{where}: {message} ({shortened(url)})")


def shortened(url: str, most: int = 200) -> str:
    """``url`` cut to ``most`` characters for a message (a refused URL may be 10 kB long).

    >>> shortened("http://h/apiv1/count?ivorn_contains=" + "x" * 300, 40)
    'http://h/apiv1/count?ivorn_contains=xxx… (336 characters)'
    """
    return url if len(url) <= most else f"{url[: most - 1]}… ({len(url)} characters)"


class BadRequest(VohubHTTPError):
    """400, 414 or 431: a filter, paging or format parameter is unknown or malformed, or the
    query is too long for the server."""


class PacketNotFound(VohubHTTPError):
    """404 or 422: no packet has the requested IVORN (or the path does not exist)."""


class LimitTooLarge(VohubHTTPError):
    """413: more rows per page were requested than the server allows."""


class ServerUnavailable(VohubHTTPError):
    """503 (after retries): the server's archive is unreachable."""


class ServerError(VohubHTTPError):
    """Any other status: a 5xx, or a 4xx the API does not define."""


class NoApiV2(ServerError):
    """404 on an ``/apiv2`` path: the server has no apiv2 (a plain voeventdb, or a wrong URL).

    The message says how to ask apiv1 instead: ``switch`` as a Python caller gives it;
    :meth:`advising` words it for another audience (``vohub query`` says ``--api v1``).

    >>> err = NoApiV2("Not Found", "http://h/apiv2/packets/count")
    >>> print(err)
    HTTP 404: Not Found (a plain voeventdb has no /apiv2: use api='v1') (http://h/apiv2/packets/count)
    >>> print(err.advising("--api v1"))
    HTTP 404: Not Found (a plain voeventdb has no /apiv2: use --api v1) (http://h/apiv2/packets/count)
    """

    def __init__(self, message: str, url: str, switch: str = "api='v1'") -> None:
        self.reason = message
        super().__init__(
            404, f"{message} (a plain voeventdb has no /apiv2: use {switch})", None, url
        )

    def advising(self, switch: str) -> NoApiV2:
        """The same error, telling its reader to ``switch`` to apiv1."""
        return NoApiV2(self.reason, self.url, switch)


class UnexpectedReply(VohubError):
    """The server answered, but not as a vohub or voeventdb API does: the host is some other
    server (another port of the hub, a web site) or a proxy's error page.

    >>> str(UnexpectedReply("http://h/apiv2/packets/count", "text/html", b"<html>Hello</html>"))
    "http://h/apiv2/packets/count answered text/html, not this API's JSON: b'<html>Hello</html>'"
    """

    def __init__(self, url: str, content_type: str, body: bytes) -> None:
        self.url = url
        super().__init__(
            f"{shortened(url)} answered {content_type or 'no content type'}, not this API's JSON: "
            f"{body[:80]!r}"
        )


class ConnectionFailed(VohubError):
    """The server could not be reached at all, after every retry.

    >>> str(ConnectionFailed("http://127.0.0.1:1", 3, "connection refused"))
    'cannot reach http://127.0.0.1:1 after 3 attempts: connection refused'
    """

    def __init__(self, url: str, attempts: int, reason: str) -> None:
        self.url = url
        self.attempts = attempts
        self.reason = reason
        super().__init__(f"cannot reach {url} after {attempts} attempts: {reason}")


class TimedOut(VohubError):
    """The server took longer than the client's timeout to answer; not retried, since the
    query may still be running there and a retry would only add to its load.

    >>> str(TimedOut("http://h/apiv1/count", 30.0))
    'no answer from http://h/apiv1/count within 30 s (raise the client timeout for a slow query)'
    """

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        super().__init__(
            f"no answer from {url} within {timeout:g} s (raise the client timeout for a slow query)"
        )


class InvalidHost(VohubError, ValueError):
    """The server URL is not the ``http://`` or ``https://`` root URL of a server.

    >>> str(InvalidHost("localhost:8080", "not an http:// or https:// URL", "http://localhost:8080"))
    "not an http:// or https:// URL: 'localhost:8080' (did you mean http://localhost:8080?)"
    """

    def __init__(self, host: str, problem: str, meant: str) -> None:
        self.host = host
        super().__init__(f"{problem}: {host!r} (did you mean {meant}?)")


class InvalidFilter(VohubError, ValueError):
    """A filter given to the client cannot be sent (unknown key or unusable value).

    >>> str(InvalidFilter("cone", "expected (SkyCoord, Angle) or (ra, dec, radius)"))
    'cone: expected (SkyCoord, Angle) or (ra, dec, radius)'
    """

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")
