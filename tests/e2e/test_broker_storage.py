"""A broker whose disk refuses its spool: what it refuses is never relayed, and it says so.

The disk refuses for real: a file-size limit (``RLIMIT_FSIZE``) set on the running broker
makes the kernel fail its next spool ``write`` with EFBIG, as a full disk fails it with
ENOSPC (Python ignores SIGXFSZ, which would otherwise kill the process); lifting the limit
is freeing the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from vohub.testing.archive import serving
from vohub.testing.broker import BrokerFactory, BrokerServer, with_ivorn
from vohub.vtp import Ack, Nak
from vohub.vtp.client import publish, subscribe

pytestmark = [pytest.mark.e2e]

BAT = (Path(__file__).resolve().parents[2] / "data" / "voevents" / "fourpisky-core"
       / "BAT_GRB_Pos_558756-820.xml").read_bytes()  # fmt: skip


def packet(name: str, padding: int = 0) -> bytes:
    """The BAT packet as ``ivo://vohub.test/disk#<name>``, ``padding`` bytes longer."""
    xml = with_ivorn(BAT, f"ivo://vohub.test/disk#{name}")
    return xml.replace(b"<How>", b"<How><Description>" + b"x" * padding + b"</Description>")


def healthz(broker: BrokerServer) -> tuple[int, dict[str, object]]:
    """The status and JSON body of the broker's ``/healthz``."""
    url = f"http://127.0.0.1:{broker.ports['metrics']}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def limit_file_size(broker: BrokerServer, limit: int) -> None:
    """Set the broker process's file-size limit (soft; the hard one stays)."""
    _, hard = resource.prlimit(broker.process.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(broker.process.pid, resource.RLIMIT_FSIZE, (limit, hard))


async def eventually(condition: Callable[[], bool], what: str, deadline: float = 30.0) -> None:
    """Poll ``condition()`` until true; fail naming ``what`` after ``deadline`` seconds."""
    try:
        async with asyncio.timeout(deadline):
            while not condition():  # noqa: ASYNC110 - nothing to wait on but the condition
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"{what} did not happen within {deadline:g} s", pytrace=False)


async def test_packets_the_disk_refuses_are_nakd_never_relayed_and_reported_until_it_recovers(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    broker = broker_factory()
    host, port = broker.receive
    got: list[str] = []
    subscription = subscribe(*broker.broadcast)

    async def follow() -> None:
        async for event in subscription:
            got.append(event.ivorn)

    following = asyncio.create_task(follow())
    await asyncio.wait_for(subscription.ready.wait(), 30)
    # An 80 kB first packet makes the spool segment the largest file the broker writes, so a
    # limit just above it refuses the spool's next write and nothing else (log, dedup store).
    big = packet("big", padding=80_000)
    assert isinstance(await publish(host, port, big), Ack)
    await eventually(lambda: got == ["ivo://vohub.test/disk#big"], "the first relay")
    [segment] = (broker.data_dir / "spool").glob("*.seg")
    limit = segment.stat().st_size + 100
    others = [*broker.data_dir.glob("seen*"), tmp_path / "broker0.out"]
    assert all(p.stat().st_size < limit // 2 for p in others), [p.stat() for p in others]

    limit_file_size(broker, limit)
    refused = [packet(f"refused-{i}") for i in range(5)]
    replies = [await publish(host, port, xml) for xml in refused]
    assert all(isinstance(reply, Nak) for reply in replies), replies
    assert {reply.reason for reply in replies if isinstance(reply, Nak)} == {
        "Event rejected: broker storage failed: File too large"
    }
    status, body = healthz(broker)
    assert status == 503
    assert body["storage_error"] == (
        f"cannot write the spool in {broker.data_dir / 'spool'}: File too large"
    )
    assert broker.metric("vohub_broker_storage_failures_total") == 5
    assert "event=storage.failed" in broker.log()
    await eventually(lambda: not serving(broker.grpc), "gRPC health saying NOT_SERVING")

    limit_file_size(broker, resource.RLIM_INFINITY)  # the disk has room again
    assert isinstance(await publish(host, port, packet("after")), Ack)
    await eventually(lambda: "ivo://vohub.test/disk#after" in got, "the relay after recovery")
    # Relays go out in acceptance order: any refused packet relayed would be there by now.
    assert got == ["ivo://vohub.test/disk#big", "ivo://vohub.test/disk#after"]
    status, body = healthz(broker)
    assert (status, body["status"], "storage_error" in body) == (200, "ok", False)
    assert "event=storage.recovered" in broker.log()
    await eventually(lambda: serving(broker.grpc), "gRPC health saying SERVING again")

    replies = [await publish(host, port, xml) for xml in refused]  # the authors try again
    assert all(isinstance(reply, Ack) for reply in replies), replies
    await eventually(lambda: len(got) == 7, "the relay of the packets sent again")
    assert got[2:] == [f"ivo://vohub.test/disk#refused-{i}" for i in range(5)]
    following.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await following
    await subscription.aclose()


async def test_a_checkpoint_the_disk_refuses_is_written_later_and_the_broker_goes_on(
    broker_factory: BrokerFactory,
) -> None:
    """The spool's checkpoint (written as checkpoint.tmp, then renamed) failing, as on a full
    disk, killed the task that trims the spool: the broker stayed unhealthy until restarted.
    A folder in the temporary file's place makes the write fail for real (root ignores
    permissions)."""
    broker = broker_factory()
    host, port = broker.receive
    spool = broker.data_dir / "spool"
    blocker = spool / "checkpoint.tmp"
    blocker.mkdir()
    assert isinstance(await publish(host, port, packet("first")), Ack)
    await eventually(lambda: "event=spool.checkpoint_failed" in broker.log(), "the failure log")
    await asyncio.sleep(1.5)  # three trims, each trying again
    assert broker.log().count("event=spool.checkpoint_failed") == 1
    assert healthz(broker)[0] == 200
    blocker.rmdir()
    assert isinstance(await publish(host, port, packet("second")), Ack)
    await eventually(lambda: "event=spool.checkpoint_recovered" in broker.log(), "the recovery")
    await eventually(lambda: (spool / "checkpoint").read_text().strip() == "2", "checkpoint 2")
    assert healthz(broker)[0] == 200
    assert "broker.task_failed" not in broker.log()
