"""``vohub archive`` as a user runs it: import, export round trip, stdin ingest, serve, config."""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from vohub.archive import cli, tarballs
from vohub.archive.config import load
from vohub.testing.archive import ArchiveFactory, archive_cli, archive_command, serving
from vohub.testing.ports import free_port
from vohub.testing.process import SupervisedProcess
from vohub.v1 import archive_pb2 as pb
from vohub.v1 import archive_pb2_grpc
from vohub.voevent.xmlsafe import MAX_BYTES

SMALL = "2020-06.002.tar.bz2"


def test_import_prints_a_summary_and_is_idempotent(tmp_path: Path, data_dir: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.db'}"
    dump = str(data_dir / "tarballs" / SMALL)
    first = archive_cli("--db", db, "import", dump)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["imported 294, duplicates 0, conflicts 0, invalid 0"]
    assert "100%" in first.stderr  # the progress bar
    again = archive_cli("--db", db, "import", dump)
    assert again.stdout.splitlines() == ["imported 0, duplicates 294, conflicts 0, invalid 0"]


def test_import_reports_invalid_members_with_reasons(tmp_path: Path) -> None:
    dump = tmp_path / "bad.tar.bz2"
    tarballs.write(dump, [("ivo://x.y/z#1", b"<VOEvent oops"), ("ivo://x.y/z#2", b"<html/>")])
    result = archive_cli("--db", f"sqlite:///{tmp_path / 'b.db'}", "import", str(dump))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "imported 0, duplicates 0, conflicts 0, invalid 2"
    assert lines[1].startswith("  invalid: x.y/z/1.xml: malformed XML")
    assert lines[2].startswith("  invalid: x.y/z/2.xml: not a VOEvent")


def test_import_goes_on_past_a_packet_whose_date_is_out_of_range_in_utc(tmp_path: Path) -> None:
    """The reader process died on its OverflowError: a traceback, no summary, and the packets
    of its last partial batch lost."""
    dump = tmp_path / "far.tar.bz2"
    members = [
        (
            f"ivo://x.y/z#{n}",
            f'<VOEvent ivorn="ivo://x.y/z#{n}" role="test"><Who><Date>{date}'
            "</Date></Who></VOEvent>".encode(),
        )
        for n, date in enumerate(
            ["2016-01-01T00:00:00", "9999-12-31T23:00:00-05:00", "2016-01-02T00:00:00"]
        )
    ]
    tarballs.write(dump, members)
    result = archive_cli("--db", f"sqlite:///{tmp_path / 'far.db'}", "import", str(dump))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.splitlines() == ["imported 3, duplicates 0, conflicts 0, invalid 0"]


def test_unreadable_dump_names_the_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.bz2"
    junk.write_bytes(b"not bzip2 at all")
    result = archive_cli("--db", f"sqlite:///{tmp_path / 'c.db'}", "import", str(junk))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [  # listed in the summary, as invalid packets are
        "imported 0, duplicates 0, conflicts 0, invalid 0",
        f"  unreadable: {junk}: cannot read dump: Invalid data stream",
    ]


def test_import_reads_saved_packet_files_and_folders(tmp_path: Path, data_dir: Path) -> None:
    """Packets saved one per file (``vohub listen --save``, Comet's ``--save-event``)."""
    saved = tmp_path / "saved"
    (saved / "2016").mkdir(parents=True)
    samples = sorted((data_dir / "voevents" / "fourpisky-core").glob("*.xml"))
    for sample in samples[:4]:  # as vohub listen names them
        (saved / sample.name).write_bytes(sample.read_bytes())
    for sample in samples[4:]:  # as Comet names them: no suffix, in a subfolder
        (saved / "2016" / sample.stem).write_bytes(sample.read_bytes())
    (saved / ".lock").write_text("not a packet")  # hidden: skipped
    (saved / "notes.txt").write_text("not a packet either")
    shutil.copy(data_dir / "tarballs" / SMALL, saved / "2020-06.tar.bz2")
    # The same IVORN as a fourpisky-core sample, with other content.
    single = data_dir / "voevents" / "voeventdb" / "SWIFT_bat_position_v2.0_example.xml"
    db = f"sqlite:///{tmp_path / 'saved.db'}"
    first = archive_cli("--db", db, "import", str(saved), str(single))
    assert first.returncode == 1, first.stderr  # notes.txt is no packet
    assert first.stdout.splitlines() == [
        f"imported {294 + len(samples)}, duplicates 0, conflicts 1, invalid 1",
        f"  invalid: {saved / 'notes.txt'}: malformed XML: Start tag expected, '<' not found, "
        "line 1",
        f"  conflict: {single}: ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_532871-729: already "
        "archived with different content; first copy kept",
    ]
    again = archive_cli("--db", db, "import", str(saved / "2016"))
    assert again.stdout.splitlines() == [
        f"imported 0, duplicates {len(samples) - 4}, conflicts 0, invalid 0"
    ]


def test_import_names_a_missing_path_or_an_empty_folder(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    missing = archive_cli("--db", db, "import", str(tmp_path / "nowhere"))
    assert (missing.returncode, missing.stderr.strip()) == (
        1,
        f"vohub archive import: {tmp_path / 'nowhere'}: no such file or folder",
    )
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    empty = archive_cli("--db", db, "import", str(tmp_path / "empty"))
    assert (empty.returncode, empty.stderr.strip()) == (
        1,
        f"vohub archive import: {tmp_path / 'empty'}: the folder holds no files to import",
    )


def test_export_import_round_trip_is_byte_exact(tmp_path: Path, data_dir: Path) -> None:
    original = data_dir / "tarballs" / SMALL
    first_db, second_db = f"sqlite:///{tmp_path / '1.db'}", f"sqlite:///{tmp_path / '2.db'}"
    assert archive_cli("--db", first_db, "import", str(original)).returncode == 0
    exported = tmp_path / "out.tar.bz2"
    result = archive_cli("--db", first_db, "export", "-o", str(exported))
    assert result.stdout.strip() == f"exported 294 packets to {exported}"
    assert "100%  294 packets" in result.stderr  # the progress bar
    members = {m.name: m.data for m in tarballs.read(original)}
    assert {m.name: m.data for m in tarballs.read(exported)} == members
    assert archive_cli("--db", second_db, "import", str(exported)).returncode == 0
    again = tmp_path / "again.tar.bz2"
    archive_cli("--db", second_db, "export", "-o", str(again))
    assert (
        hashlib.sha256(again.read_bytes()).digest()
        == hashlib.sha256(exported.read_bytes()).digest()
    )
    june = tmp_path / "june.tar.bz2"
    window = archive_cli(
        "--db",
        first_db,
        "export",
        "--since",
        "2020-06-30T18:00",
        "--until",
        "2020-07-01",
        "-o",
        str(june),
    )
    assert window.returncode == 0
    kept = list(tarballs.read(june))
    assert 0 < len(kept) < 294
    assert f"100%  {len(kept)} packets" in window.stderr  # counted with the same bounds


def test_ingest_one_packet_from_stdin(tmp_path: Path, data_dir: Path) -> None:
    db = f"sqlite:///{tmp_path / 'd.db'}"
    raw = (data_dir / "voevents" / "voeventdb" / "Gaia16bsf.xml").read_bytes()
    stored = archive_cli("--db", db, "ingest", stdin=raw)
    assert (stored.returncode, stored.stdout.strip()) == (
        0,
        "stored ivo://gaia.cam.uk/alerts#Gaia16bsf",
    )
    dup = archive_cli("--db", db, "ingest", stdin=raw)
    assert (dup.returncode, dup.stdout.strip()) == (
        0,
        "duplicate ivo://gaia.cam.uk/alerts#Gaia16bsf",
    )
    bad = archive_cli("--db", db, "ingest", stdin=b"<oops")
    assert bad.returncode == 1
    assert bad.stdout.startswith("invalid: malformed XML")
    other = archive_cli(
        "--db", db, "ingest", stdin=raw.replace(b"</voe:VOEvent>", b"<!-- -->\n</voe:VOEvent>")
    )
    assert (other.returncode, other.stdout) == (
        0,
        "conflict ivo://gaia.cam.uk/alerts#Gaia16bsf: already archived with different content;"
        " first copy kept\n",
    )


def test_ingest_a_packet_whose_date_is_out_of_range_in_utc(tmp_path: Path) -> None:
    """It printed a traceback (OverflowError) and stored nothing."""
    db = f"sqlite:///{tmp_path / 'far.db'}"
    packet = (
        b'<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"'
        b' ivorn="ivo://x.y/far#1" role="test"><Who><Date>0001-01-01T00:00:00+14:00</Date>'
        b"</Who></voe:VOEvent>"
    )
    stored = archive_cli("--db", db, "ingest", stdin=packet)
    assert (stored.returncode, stored.stdout) == (0, "stored ivo://x.y/far#1\n")
    assert "Traceback" not in stored.stderr


class Endless(io.RawIOBase):
    """``size`` spaces, as a pipe gives them, counting the bytes taken."""

    def __init__(self, size: int) -> None:
        self.left, self.taken = size, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left, 1 << 16)
        buffer[:n] = b" " * n
        self.left -= n
        self.taken += n
        return n


def test_ingest_refuses_an_oversize_stdin_without_reading_all_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It read all of stdin into memory, then applied the packet size cap."""
    config = load(env={}, overrides={"db": f"sqlite:///{tmp_path / 'big.db'}"})
    pipe = Endless(64 << 20)
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=pipe))
    assert cli.ingest_stdin(config, argparse.Namespace()) == 1
    assert pipe.taken == MAX_BYTES + 1  # not the 64 MiB: a pipe's size is never known
    assert capsys.readouterr().out == f"invalid: packet too large: over the {MAX_BYTES}-byte cap\n"
    big = tmp_path / "big.xml"  # redirected from a file: its size is known, as before
    big.write_bytes(b" " * 2_000_000)
    with big.open("rb") as handle:
        monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=handle))
        assert cli.ingest_stdin(config, argparse.Namespace()) == 1
        assert handle.tell() == MAX_BYTES + 1
    assert capsys.readouterr().out == (
        f"invalid: packet too large: 2000000 bytes, over the {MAX_BYTES}-byte cap\n"
    )


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path, data_dir: Path) -> None:
    raw = (data_dir / "voevents" / "voeventdb" / "Gaia16bsf.xml").read_bytes()
    result = archive_cli(
        "ingest", stdin=raw, cwd=tmp_path, env={"VOHUB_ARCHIVE__DATA_DIR": "store"}
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "store" / "archive.db").is_file()


@pytest.mark.parametrize(
    ("env", "toml", "message"),
    [
        ({"VOHUB_ARCHIVE__GRPC": "nowhere"}, "", "archive.grpc: address: no port in 'nowhere'"),
        ({}, "[archive]\nbacth = 5\n", "archive.bacth: unknown key"),
        ({"VOHUB_ARCHIVE__MAX_BATCH": "many"}, "", "archive.max_batch: must be int, not 'many'"),
        ({"VOHUB_ARCHIVE__DB": "mysql://x/y"}, "", "archive.db: unsupported database 'mysql'"),
    ],
)
def test_configuration_errors_name_the_key(
    tmp_path: Path, env: dict[str, str], toml: str, message: str
) -> None:
    config = tmp_path / "vohub.toml"
    config.write_text(toml)
    result = archive_cli("--config", str(config), "migrate", env=env)
    assert result.returncode == 2
    assert message in result.stderr


def test_migrate_and_check(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'm.db'}"
    assert archive_cli("--db", db, "migrate").stdout.startswith("schema at 0005: sqlite:///")
    assert archive_cli("--db", db, "migrate", "--check").returncode == 0


def test_serve_answers_grpc(
    archive_server_factory: ArchiveFactory,
    tmp_path: Path,
    data_dir: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 's.db'}"
    else:
        url = request.getfixturevalue("postgres_databases")("serve")
    server = archive_server_factory(url)
    raw = (data_dir / "voevents" / "voeventdb" / "XRT_Pos_655721-326.xml").read_bytes()
    with grpc.insecure_channel(server.address) as channel:
        stub = archive_pb2_grpc.ArchiveStub(channel)
        reply = stub.Ingest(pb.IngestRequest(packets=[pb.IngestPacket(xml=raw)]), timeout=10)
        assert reply.results[0].outcome == pb.IngestResult.STORED
        assert stub.Count(pb.CountRequest(), timeout=10).count == 1
    assert server.stop() == 0
    assert "event=archive.serving" in server.process.output()
    assert "event=archive.stopped" in server.process.output()


@pytest.mark.postgres
def test_serve_stays_not_serving_while_the_database_is_down(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    argv = archive_command("postgresql://postgres@127.0.0.1:1/nothing", address, "--ops", "")
    with SupervisedProcess("archive-down", argv, log_dir=tmp_path) as process:
        process.wait_output("event=archive.listening", deadline=30)
        with grpc.insecure_channel(address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            reply = health.Check(
                health_pb2.HealthCheckRequest(service="vohub.v1.Archive"), timeout=5
            )
        assert reply.status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert not serving(address)


@pytest.mark.slow
@pytest.mark.timeout(600)  # 85 039 packets: about a minute alone, several on a busy machine
def test_import_every_shared_dump(tmp_path: Path, data_dir: Path) -> None:
    dumps = sorted(str(p) for p in (data_dir / "tarballs").glob("*.tar.bz2"))
    result = archive_cli("--db", f"sqlite:///{tmp_path / 'all.db'}", "import", *dumps)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["imported 85039, duplicates 0, conflicts 0, invalid 0"]


def test_ops_endpoints(archive_server_factory: ArchiveFactory, tmp_path: Path) -> None:
    port = free_port()
    server = archive_server_factory(
        f"sqlite:///{tmp_path / 'o.db'}", extra=["--ops", f"127.0.0.1:{port}"]
    )
    with grpc.insecure_channel(server.address) as channel:
        archive_pb2_grpc.ArchiveStub(channel).Count(pb.CountRequest(), timeout=10)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
        assert json.loads(reply.read()) == {"status": "ok", "db": True}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        metrics = reply.read().decode()
    assert 'vohub_archive_rpc_seconds_count{code="OK",rpc="Count"} 1.0' in metrics


def test_serve_on_a_port_in_use_fails_naming_it(
    archive_server_factory: ArchiveFactory, tmp_path: Path
) -> None:
    running = archive_server_factory(f"sqlite:///{tmp_path / 'a.db'}", extra=["--ops", ""])
    db = f"sqlite:///{tmp_path / 'b.db'}"
    grpc_taken = subprocess.run(archive_command(db, running.address, "--ops", ""),
                                capture_output=True, text=True, timeout=60)  # fmt: skip
    assert grpc_taken.returncode == 1
    assert f'event=archive.start_failed error="{running.address}: cannot listen here' in (
        grpc_taken.stderr
    )
    assert all(line.startswith("ts=") for line in grpc_taken.stderr.splitlines())  # not gRPC's
    ops = f"127.0.0.1:{free_port()}"
    with socket.create_server(("127.0.0.1", int(ops.rsplit(":", 1)[1]))):
        argv = archive_command(db, f"127.0.0.1:{free_port()}", "--ops", ops)
        ops_taken = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert ops_taken.returncode == 1
    assert f'event=archive.start_failed error="{ops}: cannot listen here' in ops_taken.stderr


def test_serve_stops_with_status_2_on_a_database_it_did_not_create(tmp_path: Path) -> None:
    foreign = tmp_path / "voeventdb.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE voevent (id INTEGER PRIMARY KEY, ivorn TEXT)")
    address = f"127.0.0.1:{free_port()}"
    result = archive_cli("--db", f"sqlite:///{foreign}", "serve", "--grpc", address, "--ops", "")
    assert result.returncode == 2, result.stderr
    assert "event=archive.migrate_failed" in result.stderr
    assert "holds tables voevent that vohub did not create" in result.stderr
    assert "Traceback" not in result.stderr
    assert archive_cli("--db", f"sqlite:///{foreign}", "migrate").returncode == 2  # as serve


def test_ingest_into_an_up_to_date_archive_does_not_import_alembic(
    tmp_path: Path, data_dir: Path
) -> None:
    """Comet runs ``ingest`` once per packet: Alembic's import alone would cost 1.4 s each."""
    db = f"sqlite:///{tmp_path / 'i.db'}"
    assert archive_cli("--db", db, "migrate").returncode == 0
    code = (
        "import sys\nfrom vohub.archive.cli import main\nstatus = main(sys.argv[1:])\n"
        "print('alembic' in sys.modules)\nsys.exit(status)\n"
    )
    packet = (data_dir / "voevents" / "voeventdb" / "XRT_Pos_655721-326.xml").read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", code, "--db", db, "ingest"],
        input=packet, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().splitlines() == [
        "stored ivo://nasa.gsfc.gcn/SWIFT#XRT_Pos_655721-326",
        "False",
    ]
