"""``vohub gateway`` as run in production: hostile requests, health, metrics, access log, signals.

Requests are written byte for byte on a raw socket, so that malformed request lines, invalid
UTF-8 and oversize targets reach gunicorn exactly as an attacker would send them. Every answer
must be a 4xx JSON error naming the problem: never a 5xx, never HTML, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from vohub.testing.gateway import Stack, real_packets, start_gateway, start_stack

pytestmark = pytest.mark.e2e

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("service")
    stack = start_stack(f"sqlite:///{logs / 'archive.db'}", logs, real_packets(DATA), workers=3)
    yield stack
    stack.stop()


def raw_get(url: str, target: bytes, extra: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """Send ``GET target`` verbatim; return status, headers and body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + extra
                     + b"\r\n")  # fmt: skip
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    ("target", "status", "needle"),
    [
        (b"/apiv1/count?stream=" + b"x" * 20000, 414, b"Request line is too large"),
        (b"/apiv1/count?stream=" + b"x" * 8000, 414, b"the limit is 8000"),
        (b"/apiv1/count?stream=%ZZ", 400, b"malformed percent-escape"),
        (b"/apiv1/count?stream=%C3%28", 400, b"not valid UTF-8"),
        (b"/apiv1/count?stream=\xc3\x28", 400, b"Invalid request line"),
        (b"/apiv1/count?stream=a%00b", 400, b"NUL character"),
        (b"/apiv1/list/ivorn?limit=99999999999999999999999", 413, b"maximum is 10000"),
        (b"/apiv1/list/ivorn?offset=-5", 400, b'"parameter":"offset"'),
        (b"/apiv1/count?cone=" + b"%5B" * 2000, 400, b'"parameter":"cone"'),
        (b"/" + b"a/" * 3000, 404, b"404 Not Found"),
        (b"/apiv1/packet/xml/%FF%FE%00", 400, b'"parameter":"ivorn"'),
        (b"/apiv1/packet/synopsis/" + b"%25" * 2000, 422, b"IVORN not found"),
        (b"/apiv1/count\x00", 400, b""),
        (b"not-a-path", 400, b"Invalid request line"),
    ],
)
def test_hostile_requests_get_json_4xx(
    running: Stack, target: bytes, status: int, needle: bytes
) -> None:
    got, headers, body = raw_get(running.url, target)
    assert got == status, body[:300]
    assert headers["content-type"].startswith("application/json")
    assert headers["cache-control"] == "no-store"
    assert json.loads(body)["error"]["code"] == status
    assert needle in body
    assert b"Traceback" not in body


def test_garbage_request_line_and_headers(running: Stack) -> None:
    host, port = running.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"\x16\x03\x01 garbage garbage\r\n\r\n")
        reply = sock.recv(65536)
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert b'"code":400' in reply
    status, _headers, body = raw_get(
        running.url, b"/apiv1/count", b"X-Big: " + b"y" * 9000 + b"\r\n"
    )
    assert status == 431
    assert json.loads(body)["error"]["code"] == 431


def test_a_request_never_finished_is_dropped(running: Stack) -> None:
    host, port = running.url.removeprefix("http://").split(":")
    with (
        socket.create_connection((host, int(port)), timeout=30) as idle,
        socket.create_connection((host, int(port)), timeout=30) as partial,
    ):
        partial.sendall(b"GET /apiv1/count HTTP/1.1\r\nHost: x\r\n")  # headers never end
        assert partial.recv(100) == b""  # closed after keepalive (5 s), not held for ever
        assert idle.recv(100) == b""
    assert raw_get(running.url, b"/apiv1/count")[0] == 200  # a complete request is served


def test_post_is_json_405(running: Stack) -> None:
    reply = requests.post(running.url + "/apiv1/count", data=b"x" * 1000, timeout=10)
    assert reply.status_code == 405
    assert reply.json()["error"]["code"] == 405


def test_healthz_reports_archive(running: Stack) -> None:
    reply = requests.get(running.url + "/healthz", timeout=10)
    assert reply.json() == {"status": "ok", "archive": "SERVING"}


def test_metrics_aggregate_every_worker(running: Stack) -> None:
    for _ in range(30):
        requests.get(running.url + "/apiv1/count", params={"role": "test"}, timeout=10)
    text = requests.get(running.url + "/metrics", timeout=10).text
    line = re.search(
        r'vohub_gateway_requests_total\{method="GET",route="/apiv1/count",status="200"\} (\S+)',
        text,
    )
    assert line is not None
    assert float(line.group(1)) >= 30
    assert 'vohub_gateway_request_seconds_bucket{le="0.005",route="/apiv1/count"}' in text


def test_access_log_is_structured(running: Stack) -> None:
    requests.get(running.url + "/apiv1/count", params={"stream": "markerforlog"}, timeout=10)
    process = running.gateway.process
    process.wait_output("markerforlog", deadline=10)  # written just after the reply is sent
    line = next(line for line in process.output().splitlines() if "markerforlog" in line)
    assert "event=http.request" in line
    assert "status=200" in line
    assert re.search(r"duration_ms=[0-9.]+", line)


def test_packet_xml_revalidates_on_one_connection(running: Stack) -> None:
    ivorn = "ivo://voevent.4pisky.org/ASASSN#2016-09-25.47_2016fvf_PTSS-16nqb_PS16ejf"
    url = f"{running.url}/apiv2/packet/xml"
    with requests.Session() as keep_alive:
        first = keep_alive.get(url, params={"ivorn": ivorn}, timeout=10)
        assert "immutable" in first.headers["Cache-Control"]
        held = {"If-None-Match": first.headers["ETag"]}
        again = keep_alive.get(url, params={"ivorn": ivorn}, headers=held, timeout=10)
        assert (again.status_code, again.content) == (304, b"")
        after = keep_alive.get(url, params={"ivorn": ivorn}, timeout=10)  # same socket, intact
        assert (after.status_code, after.content) == (200, first.content)


def test_a_request_its_client_abandons_is_logged_499_not_500(
    running: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client gone before the answer (a health probe giving up, say) is not a server error."""
    monkeypatch.setenv("VOHUB_GATEWAY__ARCHIVE_DEADLINE_S", "1")
    gateway = start_gateway(running.archive.address, tmp_path, workers=1)
    archive = running.archive.process
    os.killpg(archive.pid, signal.SIGSTOP)  # the archive answers nothing for now
    try:
        host, port = gateway.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"GET /apiv1/count?stream=abandoned HTTP/1.1\r\nHost: x\r\n\r\n")
            time.sleep(0.3)
        gateway.process.wait_output('target="/apiv1/count?stream=abandoned"', deadline=10)
    finally:
        os.killpg(archive.pid, signal.SIGCONT)
        assert gateway.stop() == 0
    lines = gateway.process.output().splitlines()
    line = next(line for line in lines if 'target="/apiv1/count?stream=abandoned"' in line)
    assert "status=499" in line
    assert "bytes=0" in line


def test_unreachable_archive_is_503(running: Stack, tmp_path: Path) -> None:
    dead = start_gateway(running.archive.address, tmp_path, workers=1)
    try:
        running.archive.process.stop()  # the shared archive is stopped last in this module
        reply = requests.get(dead.url + "/apiv1/count", timeout=30)
        assert reply.status_code == 503
        assert reply.headers["Retry-After"] == "5"
        assert "archive" in reply.json()["error"]["message"]
        assert requests.get(dead.url + "/healthz", timeout=10).status_code == 503
    finally:
        assert dead.stop() == 0
