"""Framing: big-endian length prefixes, split and merged reads, limits, every real packet."""

from __future__ import annotations

from pathlib import Path

import pytest

from vohub.vtp.errors import FrameTooLarge, OutgoingFrameTooLarge, TruncatedFrame
from vohub.vtp.framing import (
    COMET_MAX_FRAME_SIZE,
    DEFAULT_MAX_FRAME_SIZE,
    FrameDecoder,
    encode_frame,
)

PACKETS = sorted((Path(__file__).resolve().parents[3] / "data" / "voevents").rglob("*.xml"))


def test_there_are_real_packets_to_test() -> None:
    assert len(PACKETS) >= 25


@pytest.mark.parametrize("path", PACKETS, ids=[p.name for p in PACKETS])
def test_every_real_packet_survives_frame_and_unframe(path: Path) -> None:
    packet = path.read_bytes()
    wire = encode_frame(packet)
    assert wire[:4] == len(packet).to_bytes(4, "big")
    cases = [([wire], 1), ([wire[i : i + 1] for i in range(len(wire))], 1), ([wire + wire], 2)]
    for chunks, copies in cases:
        decoder = FrameDecoder()
        got: list[bytes] = []
        for chunk in chunks:
            decoder.feed(chunk)
            got.extend(decoder)
        assert got == [packet] * copies
        decoder.close()


def test_prefix_counts_payload_only() -> None:
    assert encode_frame(b"") == b"\x00\x00\x00\x00"
    assert encode_frame(b"abc") == b"\x00\x00\x00\x03abc"


def test_empty_frame_is_delivered_as_empty_payload() -> None:
    decoder = FrameDecoder()
    decoder.feed(b"\x00\x00\x00\x00\x00\x00\x00\x01x")
    assert list(decoder) == [b"", b"x"]


def test_outgoing_limit_defaults_to_comet() -> None:
    assert len(encode_frame(b"x" * COMET_MAX_FRAME_SIZE)) == COMET_MAX_FRAME_SIZE + 4
    with pytest.raises(OutgoingFrameTooLarge) as caught:
        encode_frame(b"x" * (COMET_MAX_FRAME_SIZE + 1), peer="127.0.0.1:8098")
    assert (caught.value.size, caught.value.max_size) == (100_000, 99_999)
    assert "127.0.0.1:8098" in str(caught.value)
    assert encode_frame(b"x" * 100_000, max_size=200_000)[:4] == b"\x00\x01\x86\xa0"


def test_incoming_limit_accepts_comet_size_by_default() -> None:
    assert DEFAULT_MAX_FRAME_SIZE >= COMET_MAX_FRAME_SIZE
    decoder = FrameDecoder()
    decoder.feed(encode_frame(b"y" * 500_000, max_size=DEFAULT_MAX_FRAME_SIZE))
    assert [len(p) for p in decoder] == [500_000]


def test_oversize_prefix_is_rejected_before_the_payload_arrives() -> None:
    decoder = FrameDecoder(max_size=COMET_MAX_FRAME_SIZE, peer="10.0.0.1:4444")
    decoder.feed((100_000).to_bytes(4, "big"))
    with pytest.raises(FrameTooLarge) as caught:
        decoder.next_frame()
    assert caught.value.size == 100_000
    assert "10.0.0.1:4444" in str(caught.value)
    decoder.feed(b"more")
    with pytest.raises(FrameTooLarge):  # poisoned: the stream cannot be resynchronised
        list(decoder)


def test_little_endian_prefix_reads_as_huge_and_is_rejected() -> None:
    decoder = FrameDecoder()
    decoder.feed((7142).to_bytes(4, "little") + b"<VOEvent/>")
    with pytest.raises(FrameTooLarge, match="frame length 3860529152 exceeds"):
        list(decoder)


def test_good_frame_before_an_oversize_prefix_is_still_delivered() -> None:
    decoder = FrameDecoder(max_size=10)
    decoder.feed(encode_frame(b"ok") + (11).to_bytes(4, "big"))
    assert decoder.next_frame() == b"ok"
    with pytest.raises(FrameTooLarge):
        decoder.next_frame()


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\x00\x00", "after 2 of 4 bytes"),
        (b"\x00\x00\x00\x05abc", "after 3 of 5 bytes"),
        (b"\x00\x00\x00\x01x\x00\x00\x00\x02y", "after 1 of 2 bytes"),
    ],
)
def test_truncated_frame_is_reported_at_close(data: bytes, text: str) -> None:
    decoder = FrameDecoder(peer="h:1")
    decoder.feed(data)
    list(decoder)
    with pytest.raises(TruncatedFrame, match=text) as caught:
        decoder.close()
    assert caught.value.peer == "h:1"


def test_close_between_frames_is_clean() -> None:
    decoder = FrameDecoder()
    decoder.feed(encode_frame(b"a"))
    assert list(decoder) == [b"a"]
    decoder.close()
    assert decoder.pending == 0
