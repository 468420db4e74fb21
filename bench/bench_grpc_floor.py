"""The fixed CPU cost of the gateway's hop to the archive: one gRPC unary call, nothing behind it.

An archive servicer that answers ``GetXml`` with 5 000 constant bytes (no database, no store)
runs under the archive's own server (:class:`ThreadedGrpcServer`, 4 threads) in a child
process; this process calls it as the gateway does (``grpc.aio`` on uvloop, 8 calls in flight).
The same server also answers a bidirectional stream (raw bytes, no protobuf) on which the
client multiplexes its requests, one message each way per request: what a gateway holding one
long-lived stream per worker, in place of a call per request, would pay instead.
Beside it, in the same run, the same 5 000 bytes are served over HTTP by a Falcon ASGI app under
gunicorn with the gateway's worker (2 workers, loaded by wrk over 8 keep-alive connections):
the whole HTTP request a client makes, for comparison with the one internal call.

The figures are CPU milliseconds per call (client + server) for each. They bound what any
request through the gateway can cost: whatever the query, it pays one HTTP request and one
gRPC call before the archive does any work.

    .venv/bin/python bench/bench_grpc_floor.py [--calls 6000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gateway import cpu_seconds, free_port, start, stop, wait_http
from gateway_loadgen import run_load

REPLY = b"x" * 5000
HTTP_APP = f"""
import falcon.asgi

class Packet:
    async def on_get(self, req, resp):
        resp.content_type = "text/xml"
        resp.data = {REPLY!r}

app = falcon.asgi.App()
app.add_route("/packet", Packet())
"""


def serve(port: int) -> None:
    """Run the constant-answer archive servicer until SIGTERM (the child process)."""
    import grpc

    from vohub.common.addresses import Address
    from vohub.common.grpc_serve import ThreadedGrpcServer
    from vohub.v1 import archive_pb2, archive_pb2_grpc

    class Constant(archive_pb2_grpc.ArchiveServicer):
        def GetXml(self, request: Any, context: Any) -> Any:  # noqa: N802
            return archive_pb2.XmlResponse(xml=REPLY)

    def echo(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
        for tag in requests:
            yield tag + REPLY

    def register(server: Any) -> None:
        archive_pb2_grpc.add_ArchiveServicer_to_server(Constant(), server)
        stream = grpc.stream_stream_rpc_method_handler(echo)
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler(STREAM_SERVICE, {"Echo": stream})]
        )

    server = ThreadedGrpcServer(Address("127.0.0.1", port), [register], services=[])
    server.start()
    server.wait_for_signal()


#: The generic service of the multiplexed stream (no .proto: requests and replies are bytes).
STREAM_SERVICE = "bench.Floor"
#: Command-line markers of the two servers measured, for :func:`cpu_seconds`.
SERVERS = (("--serve", "grpc"), ("floor_app:app", "http"))


async def call_many(port: int, calls: int, in_flight: int) -> None:
    """``calls`` GetXml calls, ``in_flight`` at a time, on one asyncio channel."""
    import grpc

    from vohub.v1 import archive_pb2, archive_pb2_grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = archive_pb2_grpc.ArchiveStub(channel)
        request = archive_pb2.PacketRequest(ivorn="ivo://bench/floor#1")
        await stub.GetXml(request, timeout=10, wait_for_ready=True)  # the server may be starting

        async def caller(n: int) -> None:
            for _ in range(n):
                await stub.GetXml(request, timeout=10)

        await asyncio.gather(*(caller(calls // in_flight) for _ in range(in_flight)))


async def stream_many(port: int, calls: int, in_flight: int) -> None:
    """``calls`` requests, ``in_flight`` at a time, multiplexed on one bidirectional stream.

    Each request carries an 8-byte tag; one task writes (a stream takes one write at a time)
    and one reads, handing each reply to the caller waiting on its tag.
    """
    import grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        await channel.channel_ready()
        call = channel.stream_stream(f"/{STREAM_SERVICE}/Echo")()
        outbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        waiting: dict[bytes, asyncio.Future[bytes]] = {}

        async def write() -> None:
            while (tag := await outbox.get()) is not None:
                await call.write(tag)
            await call.done_writing()

        async def read() -> None:
            async for reply in call:
                waiting.pop(reply[:8]).set_result(reply)

        async def caller(first: int, n: int) -> None:
            for tag in range(first, first + n):
                key = b"%08d" % tag
                waiting[key] = asyncio.get_running_loop().create_future()
                outbox.put_nowait(key)
                await waiting[key]

        tasks = [asyncio.ensure_future(write()), asyncio.ensure_future(read())]
        each = calls // in_flight
        await asyncio.gather(*(caller(i * each, each) for i in range(in_flight)))
        outbox.put_nowait(None)
        await asyncio.gather(*tasks)


def grpc_floor(
    calls: int, workdir: Path, how: Callable[[int, int, int], Coroutine[Any, Any, None]]
) -> tuple[float, float]:
    """(client, server) CPU milliseconds per request made by ``how`` (:func:`call_many` or
    :func:`stream_many`)."""
    import uvloop

    port = free_port()
    server = start([sys.executable, __file__, "--serve", str(port)], workdir / "grpc.log")
    try:
        uvloop.run(call_many(port, 8, 8))  # waits for the server
        uvloop.run(how(port, 800, 8))  # warm up
        client, served = time.process_time(), cpu_seconds(SERVERS)["grpc"]
        uvloop.run(how(port, calls, 8))
        client = time.process_time() - client
        served = cpu_seconds(SERVERS)["grpc"] - served
    finally:
        stop(server)
    return client * 1000 / calls, served * 1000 / calls


def http_floor(seconds: float, workdir: Path) -> float:
    """CPU milliseconds per HTTP request to the constant app (gunicorn workers only)."""
    (workdir / "floor_app.py").write_text(HTTP_APP)
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--chdir", str(workdir), "--workers", "2",
            "--worker-class", "vohub.gateway.worker.JsonErrorWorker",
            "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "floor_app:app"]  # fmt: skip
    server = start(argv, workdir / "http.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/packet")
        run_load(url, ["/packet"], 8, 1.0)  # warm up
        before = cpu_seconds(SERVERS)["http"]
        result = run_load(url, ["/packet"], 8, seconds)
        used = cpu_seconds(SERVERS)["http"] - before
    finally:
        stop(server)
    return used * 1000 / (result["rps"] * seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=6000)
    parser.add_argument("--seconds", type=float, default=6.0, help="of HTTP load")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    workdir = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    client, server = grpc_floor(args.calls, workdir, call_many)
    s_client, s_server = grpc_floor(args.calls, workdir, stream_many)
    http = http_floor(args.seconds, workdir)
    print(f"gRPC unary call, 5 000-byte reply: {client + server:.3f} ms CPU "
          f"(aio client {client:.3f} + threaded server {server:.3f})")  # fmt: skip
    print(f"one request on a multiplexed gRPC stream: {s_client + s_server:.3f} ms CPU "
          f"(aio client {s_client:.3f} + threaded server {s_server:.3f})")  # fmt: skip
    print(f"HTTP request, 5 000-byte reply (gunicorn + Falcon ASGI): {http:.3f} ms CPU")
    print(f"ratio gRPC call / HTTP request: {(client + server) / http:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
