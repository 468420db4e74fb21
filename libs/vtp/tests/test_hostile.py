"""Hostile input: every case raises only the library's own errors, each of the expected type."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vohub.vtp.broker import BroadcastConnection, ReceiverConnection
from vohub.vtp.errors import (
    FrameTooLarge,
    MalformedMessage,
    RemoteProtocolError,
    TruncatedFrame,
    UnknownMessage,
    VTPError,
)
from vohub.vtp.framing import COMET_MAX_FRAME_SIZE, FrameDecoder, encode_frame
from vohub.vtp.messages import decode
from vohub.vtp.subscriber import SubscriberConnection

LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
        for i in range(1, 10)
    )
    + b']><VOEvent role="test" ivorn="ivo://a/b#1">&lol9;</VOEvent>'
)
XXE = (
    b'<?xml version="1.0"?><!DOCTYPE v [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<VOEvent role="test" ivorn="ivo://a/b#1">&x;</VOEvent>'
)
EXTERNAL_DTD = (
    b'<!DOCTYPE VOEvent SYSTEM "http://127.0.0.1:9/evil.dtd">'
    b'<VOEvent role="test" ivorn="ivo://a/b#1"/>'
)
QUADRATIC = (
    b'<!DOCTYPE v [<!ENTITY a "'
    + b"x" * 50_000
    + b'">]><VOEvent role="test" ivorn="i">'
    + b"&a;" * 1000
    + b"</VOEvent>"
)
DEEP = b"<VOEvent>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</VOEvent>"

PAYLOADS = [
    pytest.param(b"", MalformedMessage, id="empty"),
    pytest.param(b"hello, broker", MalformedMessage, id="not-xml"),
    pytest.param(bytes(range(256)), MalformedMessage, id="binary"),
    pytest.param(b'<VOEvent role="test" ivorn="ivo://a/b#1">', MalformedMessage, id="cut-xml"),
    pytest.param(b"\xff\xfe<\x00a\x00", MalformedMessage, id="utf16-garbage"),
    pytest.param(LAUGHS, MalformedMessage, id="billion-laughs"),
    pytest.param(XXE, MalformedMessage, id="external-entity"),
    pytest.param(EXTERNAL_DTD, MalformedMessage, id="external-dtd"),
    pytest.param(QUADRATIC, MalformedMessage, id="quadratic-blowup"),
    pytest.param(DEEP, MalformedMessage, id="deep-nesting"),
    pytest.param(b"<?pi only?>", MalformedMessage, id="no-root"),
    pytest.param(b"<svg xmlns='http://www.w3.org/2000/svg'/>", UnknownMessage, id="other-xml"),
]


@pytest.mark.parametrize(("payload", "error"), PAYLOADS)
def test_hostile_payload_raises_its_precise_error(payload: bytes, error: type[VTPError]) -> None:
    with pytest.raises(error):
        decode(payload)


@pytest.mark.parametrize(("payload", "error"), PAYLOADS)
def test_hostile_payload_closes_an_author_connection_without_reply(
    payload: bytes, error: type[VTPError]
) -> None:
    conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0, peer="10.1.2.3:5555")
    conn.data_to_send()
    with pytest.raises(error) as caught:
        conn.receive_data(encode_frame(payload, max_size=len(payload)))
    assert caught.value.peer == "10.1.2.3:5555"
    assert conn.closed
    assert conn.data_to_send() == b""


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        pytest.param((COMET_MAX_FRAME_SIZE + 1).to_bytes(4, "big"), FrameTooLarge, id="oversize"),
        pytest.param((2142).to_bytes(4, "little"), FrameTooLarge, id="little-endian"),
        pytest.param(b"\xff\xff\xff\xff", FrameTooLarge, id="max-prefix"),
    ],
)
def test_hostile_prefixes(wire: bytes, error: type[VTPError]) -> None:
    decoder = FrameDecoder(max_size=COMET_MAX_FRAME_SIZE)
    decoder.feed(wire)
    with pytest.raises(error):
        list(decoder)


def test_truncated_frame_at_eof() -> None:
    conn = ReceiverConnection(local_ivo="ivo://hub/b", now=0.0)
    assert conn.receive_data(encode_frame(b"<VOEvent/>")[:-2]) is None
    with pytest.raises(TruncatedFrame):
        conn.receive_eof()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_fuzz_arbitrary_bytes_raise_only_library_errors(chunks: list[bytes]) -> None:
    machines = [
        ReceiverConnection(local_ivo="ivo://hub/b", now=0.0, max_frame_size=4096),
        BroadcastConnection(local_ivo="ivo://hub/b", now=0.0, max_frame_size=4096),
        SubscriberConnection(local_ivo=None, now=0.0, max_frame_size=4096),
    ]
    for machine in machines:
        try:
            for chunk in chunks:
                if isinstance(machine, SubscriberConnection):
                    machine.receive_data(chunk, 1.0)
                else:
                    machine.receive_data(chunk)
            machine.receive_eof()
        except RemoteProtocolError:
            pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_framed_garbage_decodes_or_raises_remote_errors(payload: bytes) -> None:
    with contextlib.suppress(MalformedMessage, UnknownMessage):
        decode(payload)


@settings(max_examples=200, deadline=None)
@given(
    st.builds(
        lambda role, ivorn, text: (
            f'<VOEvent role="{role}" ivorn="{ivorn}"><What>{text}</What></VOEvent>'
        ).encode(),
        st.sampled_from(["observation", "test", "x"]),
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=10),
        st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20),
    )
)
def test_fuzz_xml_like_payloads_raise_only_remote_errors(payload: bytes) -> None:
    with contextlib.suppress(MalformedMessage, UnknownMessage):
        decode(payload)
