"""The asyncio subscriber's log of a connection's life, against a broker served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from vohub.vtp.backoff import Backoff
from vohub.vtp.broadcaster import BroadcastConnection
from vohub.vtp.client import subscribe

LOGGER = "vohub.vtp.client"
FAST = Backoff(initial=0.05, factor=2.0, maximum=0.2, jitter=0.0)
Broker = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def greeting() -> bytes:
    """The broker's authenticate, as a broadcast port sends it at connect."""
    return BroadcastConnection(local_ivo="ivo://vohub.test/upstream", now=0).data_to_send()


async def hangs_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(greeting())
    await writer.drain()
    writer.close()


async def goes_silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(greeting())
    await reader.read()  # until the subscriber gives up on it
    writer.close()


async def cuts_a_frame(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(greeting() + b"\x00\x00\x01\x00<VOEvent")
    await writer.drain()
    writer.close()


def logged(caplog: pytest.LogCaptureFixture, *events: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (r.getMessage(), r.vohub_fields)
        for r in caplog.records
        if r.name == LOGGER and r.getMessage() in events
    ]


async def eventually(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110 - nothing to wait on but the log
            await asyncio.sleep(0.02)


@pytest.mark.parametrize(
    ("broker", "reason"),
    [
        (hangs_up, "closed by the broker"),
        (goes_silent, "no message for 0.3 s; reconnecting"),
        (cuts_a_frame, "connection closed after 8 of 256 bytes of a frame"),
    ],
    ids=["hangs-up", "silent", "truncated"],
)
async def test_each_lost_connection_is_logged_once_with_its_reason_before_the_retry(
    caplog: pytest.LogCaptureFixture, broker: Broker, reason: str
) -> None:
    """An upstream that went away logged its first retry with no line saying it was lost;
    an attempt that never connected was logged as a lost connection."""
    server = await asyncio.start_server(broker, "127.0.0.1", 0)
    host, port = server.sockets[0].getsockname()[:2]
    sub = subscribe(host, port, idle_timeout=0.3, backoff=FAST)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        sub.start()
        try:
            await eventually(lambda: len(logged(caplog, "vtp.subscribe.lost")) >= 2)
            server.close()  # gone: the next attempts are refused
            await eventually(lambda: len(logged(caplog, "vtp.subscribe.connect_failed")) >= 2)
        finally:
            await sub.aclose()
            server.close()
            await server.wait_closed()
    lines = logged(
        caplog,
        "vtp.subscribe.connected",
        "vtp.subscribe.lost",
        "vtp.subscribe.connect_failed",
        "vtp.subscribe.retry",
    )
    peer = f"127.0.0.1:{port}"
    assert lines[0] == ("vtp.subscribe.connected", {"peer": peer, "connections": 1})
    lost = ("vtp.subscribe.lost", {"peer": peer, "reason": lines[1][1].get("reason", "")})
    assert lines[1] == lost
    assert reason in lost[1]["reason"]
    assert lines[2][0] == "vtp.subscribe.retry"
    # Every retry follows exactly one line saying why: a connection lost or an attempt failed.
    names = [name for name, _ in lines if name != "vtp.subscribe.connected"]
    pairs = list(zip(names[::2], names[1::2], strict=False))
    assert all(second == "vtp.subscribe.retry" for _, second in pairs)
    assert {first for first, _ in pairs} == {"vtp.subscribe.lost", "vtp.subscribe.connect_failed"}
    assert names.count("vtp.subscribe.lost") == sub.connections
    failed = [fields for name, fields in lines if name == "vtp.subscribe.connect_failed"]
    assert f"[Errno {errno.ECONNREFUSED}]" in failed[0]["error"]
