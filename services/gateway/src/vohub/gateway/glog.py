"""gunicorn's logger class for the gateway: error and access logs as structured one-line events."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.glogging import Logger

from vohub.common.logs import Format, configure, get_logger

#: Log line format chosen by ``vohub gateway`` before gunicorn starts (inherited by workers).
FORMAT: Format = "kv"

access_log = get_logger("vohub.gateway.access")
#: The status logged for a request whose client left before any answer (nginx's 499).
CLIENT_CLOSED = "499"


class StructuredLogger(Logger):
    """Routes gunicorn's own messages through :mod:`vohub.common.logs` and logs each request."""

    def setup(self, cfg: Any) -> None:
        """Install the structured handler on the root logger and send gunicorn's logs there."""
        super().setup(cfg)
        configure("gateway", level=cfg.loglevel, fmt=FORMAT)
        for logger in (self.error_log, self.access_log):
            logger.handlers.clear()
            logger.propagate = True
        self.error_log.setLevel(logging.NOTSET)

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        """One ``http.request`` event per request (nothing to build when INFO is off).

        ``request_time`` has the ``seconds`` and ``microseconds`` of a timedelta.
        """
        if not access_log.logger.isEnabledFor(logging.INFO):
            return
        target = str(environ.get("RAW_URI") or req.uri or "")
        status = str(resp.status).split(" ", 1)[0]
        sent = getattr(resp, "sent", None)
        if status == "500" and sent == 0:
            # gunicorn's placeholder when the client hung up before the answer was written
            # (every 500 of the gateway has a body): 499, "client closed request", as nginx logs
            status = CLIENT_CLOSED
        access_log.info(
            "http.request",
            method=environ.get("REQUEST_METHOD", req.method),
            target=target[:300],
            status=status,
            bytes=sent,
            duration_ms=round(request_time.seconds * 1000 + request_time.microseconds / 1000, 3),
            remote=environ.get("REMOTE_ADDR"),
            user_agent=str(environ.get("HTTP_USER_AGENT", ""))[:120],
        )
