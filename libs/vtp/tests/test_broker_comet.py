"""Broker-side state machines behind a minimal asyncio edge, with real Comet peers on the other end.

Comet's own author tool (``comet-sendvo``) submits to a ReceiverConnection, and a Comet broker
with ``--remote`` subscribes to a BroadcastConnection. The edge here is test scaffolding only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from vohub.testing.fixtures import CometFactory
from vohub.vtp.broker import BroadcastConnection, Offer, ReceiverConnection
from vohub.vtp.messages import Event, parse_event

pytestmark = pytest.mark.interop

HUB = "ivo://vohub.test/hub"
PACKET_61 = "//Param[@name='Packet_Type' and @value='61']"


async def receive_one(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, verdict: Callable[[Event], str]
) -> Event | None:
    """Serve one author connection: read its event, accept or reject it, close."""
    conn = ReceiverConnection(local_ivo=HUB, now=time.time(), peer="author")
    event = None
    while event is None and (data := await reader.read(65536)):
        event = conn.receive_data(data)
    if event is not None:
        reason = verdict(event)
        conn.accept(time.time()) if reason == "" else conn.reject(reason, time.time())
        writer.write(conn.data_to_send())
        await writer.drain()
    writer.close()
    await writer.wait_closed()
    return event


async def sendvo(comet_venv: Path, port: int, path: Path) -> int:
    proc = await asyncio.create_subprocess_exec(
        str(comet_venv / "bin" / "comet-sendvo"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-f",
        str(path),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(proc.wait(), 30)


async def test_comet_sendvo_gets_our_ack_and_our_nak(
    comet_venv: Path, tmp_path: Path, bat_packet: bytes
) -> None:
    received: list[Event | None] = []
    verdicts = iter(["", "Previously seen by this broker"])

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await receive_one(reader, writer, lambda _: next(verdicts)))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    path = tmp_path / "bat.xml"
    path.write_bytes(bat_packet)
    async with server:
        assert await sendvo(comet_venv, port, path) == 0  # comet-sendvo: 0 on ack
        assert await sendvo(comet_venv, port, path) == 1  # 1 on nak
    assert [e.raw if e else None for e in received] == [bat_packet, bat_packet]


async def read_until(
    reader: asyncio.StreamReader, conn: BroadcastConnection, done: Callable[[], bool]
) -> None:
    while not done():
        data = await asyncio.wait_for(reader.read(65536), 15)
        assert data, "Comet closed the subscription"
        conn.receive_data(data)


async def test_comet_subscriber_sends_filters_acks_and_answers_iamalive(
    comet_factory: CometFactory, tmp_path: Path, bat_packet: bytes, gaia_packet: bytes
) -> None:
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]]
    accepted = asyncio.get_running_loop().create_future()
    hold = asyncio.Event()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result((reader, writer))
        await hold.wait()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    out = tmp_path / "handled.xml"
    script = tmp_path / "handler.sh"
    script.write_text(f"#!/bin/sh\ncat > {out}.part && mv {out}.part {out}\n")
    script.chmod(0o755)
    async with server:
        await asyncio.to_thread(
            comet_factory,
            name="downstream",
            receive=False,
            broadcast=False,
            remotes=[f"127.0.0.1:{port}"],
            filters=[PACKET_61],
            cmd=str(script),
            local_ivo="ivo://vohub.test/downstream",
        )
        reader, writer = await asyncio.wait_for(accepted, 15)
        conn = BroadcastConnection(local_ivo=HUB, now=time.time(), peer="comet")
        writer.write(conn.data_to_send())
        await read_until(reader, conn, lambda: conn.filters.expressions == (PACKET_61,))

        assert conn.offer(parse_event(gaia_packet)) is Offer.FILTERED
        assert conn.offer(parse_event(bat_packet)) is Offer.SENT
        writer.write(conn.data_to_send())
        await read_until(reader, conn, lambda: conn.outstanding_acks == 0)

        conn.tick(time.time())
        writer.write(conn.data_to_send())
        await read_until(reader, conn, lambda: conn.missed_iamalives == 0)
        assert not conn.closed

        for _ in range(300):  # Comet runs --cmd after acking; wait up to 15 s for it
            if out.exists():
                break
            await asyncio.sleep(0.05)
        hold.set()
        writer.close()
        await writer.wait_closed()
    assert out.read_bytes() == bat_packet  # relayed byte for byte, handed to --cmd
