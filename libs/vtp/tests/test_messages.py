"""Transport messages: one table of (message, exact bytes) drives the encoder and decoder tests."""

from __future__ import annotations

import pytest
from lxml import etree

from vohub.vtp.errors import MalformedMessage, UnknownMessage
from vohub.vtp.framing import FrameDecoder, encode_frame
from vohub.vtp.messages import (
    Ack,
    Authenticate,
    Event,
    IAmAlive,
    Message,
    Nak,
    decode,
    encode,
    parse_event,
)

NOW = 1_795_592_693  # 2026-11-25T07:44:53Z
STAMP = "2026-11-25T07:44:53Z"
BROKER = "ivo://vohub.test/brokerA"
SUB = "ivo://vohub.test/subcometF"
IVORN = "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_570069-383"
FILTER = "//Param[@name='Packet_Type' and @value='61']"


def head(role: str) -> bytes:
    """Comet's declaration and root start tag, as observed on the wire."""
    return (
        b"<?xml version='1.0' encoding='UTF-8'?>\n"
        b'<trn:Transport xmlns:trn="http://www.telescope-networks.org/xml/Transport/v1.1" '
        b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="1.0" '
        b'xsi:schemaLocation="http://telescope-networks.org/schema/Transport/v1.1 '
        b'http://www.telescope-networks.org/schema/Transport-v1.1.xsd" role="'
        + role.encode()
        + b'">\n'
    )


def body(*lines: str) -> bytes:
    return b"".join(f"  {line}\n".encode() for line in lines) + b"</trn:Transport>\n"


TS = f"<TimeStamp>{STAMP}</TimeStamp>"

TABLE: list[tuple[Message, bytes]] = [
    (Authenticate(BROKER), head("authenticate") + body(f"<Origin>{BROKER}</Origin>", TS)),
    (
        Authenticate(BROKER, SUB, (FILTER,)),
        head("authenticate")
        + body(
            f"<Origin>{BROKER}</Origin>",
            f"<Response>{SUB}</Response>",
            TS,
            "<Meta>",
            '  <Param name="xpath-filter" value="//Param[@name=\'Packet_Type\' and '
            "@value='61']\"/>",
            "</Meta>",
        ),
    ),
    (
        Authenticate(BROKER, SUB),
        head("authenticate")
        + body(f"<Origin>{BROKER}</Origin>", f"<Response>{SUB}</Response>", TS, "<Meta/>"),
    ),
    (IAmAlive(BROKER), head("iamalive") + body(f"<Origin>{BROKER}</Origin>", TS)),
    (
        IAmAlive(BROKER, SUB),
        head("iamalive") + body(f"<Origin>{BROKER}</Origin>", f"<Response>{SUB}</Response>", TS),
    ),
    (
        Ack(IVORN, BROKER),
        head("ack") + body(f"<Origin>{IVORN}</Origin>", f"<Response>{BROKER}</Response>", TS),
    ),
    (
        Nak(IVORN, BROKER, "Event rejected: Previously seen by this broker"),
        head("nak")
        + body(
            f"<Origin>{IVORN}</Origin>",
            f"<Response>{BROKER}</Response>",
            TS,
            "<Meta>",
            "  <Result>Event rejected: Previously seen by this broker</Result>",
            "</Meta>",
        ),
    ),
    (
        Nak("ivo://a.b/c#<&>", BROKER, 'quote " and <tag>'),
        head("nak")
        + body(
            "<Origin>ivo://a.b/c#&lt;&amp;&gt;</Origin>",
            f"<Response>{BROKER}</Response>",
            TS,
            "<Meta>",
            '  <Result>quote " and &lt;tag&gt;</Result>',
            "</Meta>",
        ),
    ),
]
IDS = [f"{type(m).__name__}-{i}" for i, (m, _) in enumerate(TABLE)]


@pytest.mark.parametrize(("message", "expected"), TABLE, ids=IDS)
def test_encoder_writes_exact_bytes(message: Message, expected: bytes) -> None:
    assert encode(message, NOW) == expected


@pytest.mark.parametrize(("message", "payload"), TABLE, ids=IDS)
def test_decoder_reads_exact_bytes(message: Message, payload: bytes) -> None:
    decoded = decode(payload)
    assert decoded == message
    assert getattr(decoded, "timestamp", None) == STAMP


def frames_of(chunks: list[bytes]) -> list[Message]:
    decoder = FrameDecoder()
    out: list[Message] = []
    for chunk in chunks:
        decoder.feed(chunk)
        out.extend(decode(payload) for payload in decoder)
    decoder.close()
    return out


@pytest.mark.parametrize(("message", "payload"), TABLE, ids=IDS)
def test_decoder_fed_whole_bytewise_and_merged(message: Message, payload: bytes) -> None:
    wire = encode_frame(payload)
    assert frames_of([wire]) == [message]
    assert frames_of([wire[i : i + 1] for i in range(len(wire))]) == [message]
    following, next_payload = TABLE[(TABLE.index((message, payload)) + 1) % len(TABLE)]
    merged = wire + encode_frame(next_payload)
    assert frames_of([merged[:-3], merged[-3:]]) == [message, following]


@pytest.mark.parametrize(("message", "payload"), TABLE, ids=IDS)
def test_built_messages_validate_against_comet_transport_schema(
    message: Message, payload: bytes, transport_schema: etree.XMLSchema
) -> None:
    document = etree.fromstring(encode(message, NOW))
    transport_schema.assertValid(document)
    assert document.findtext("TimeStamp").endswith("Z")


def test_comet_sizes_reproduced() -> None:
    # Observed on the wire from Comet 3.1.0: authenticate 448, iamalive 444, ack 511 bytes.
    assert len(encode(Authenticate(BROKER), NOW)) == 448
    assert len(encode(IAmAlive(BROKER), NOW)) == 444
    assert len(encode(Ack(IVORN, BROKER), NOW)) == 511


PYGCN_REPLY = (
    b"<?xml version='1.0' encoding='UTF-8'?><trn:Transport role=\"iamalive\" version=\"1.0\" "
    b'xmlns:trn="http://telescope-networks.org/schema/Transport/v1.1" '
    b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    b'xsi:schemaLocation="http://telescope-networks.org/schema/Transport/v1.1 '
    b'http://telescope-networks.org/schema/Transport/v1.1/Transport-v1.1.xsd">'
    b"<Origin>ivo://vohub.test/brokerA</Origin>"
    b"<Response>ivo://python_voeventclient/anonymous</Response>"
    b"<TimeStamp>2026-11-25T07:50:33.123182</TimeStamp></trn:Transport>"
)

TOLERANT: list[tuple[bytes, Message]] = [
    (PYGCN_REPLY, IAmAlive(BROKER, "ivo://python_voeventclient/anonymous")),
    (b'<Transport role="iamalive"><Origin>x</Origin></Transport>', IAmAlive("x")),
    (
        b'<t:Transport xmlns:t="urn:other" role="authenticate"><Meta>'
        b'<Param name="xpath-filter" value="//A"/><Param name="other" value="//B"/>'
        b'<filter type="xpath">//C</filter><filter type="xslt">//D</filter></Meta>'
        b"<Origin> ivo://b/x </Origin></t:Transport>",
        Authenticate("ivo://b/x", None, ("//A", "//C")),
    ),
    (b'<Transport role="nak"><Origin>ivo://a/b#1</Origin></Transport>', Nak("ivo://a/b#1")),
    (b'<Transport role="ack"/>', Ack("")),
]


@pytest.mark.parametrize(("payload", "message"), TOLERANT)
def test_decoder_accepts_any_namespace_meta_anywhere_and_both_filter_styles(
    payload: bytes, message: Message
) -> None:
    assert decode(payload) == message


def test_pygcn_timestamp_is_kept_as_sent() -> None:
    decoded = decode(PYGCN_REPLY)
    assert isinstance(decoded, IAmAlive)
    assert decoded.timestamp == "2026-11-25T07:50:33.123182"


def test_event_keeps_exact_bytes_and_parsed_root(bat_packet: bytes) -> None:
    event = decode(bat_packet)
    assert isinstance(event, Event)
    assert event.raw is bat_packet
    assert (event.ivorn, event.role) == (
        "ivo://nasa.gsfc.gcn/SWIFT#BAT_GRB_Pos_558756-820",
        "observation",
    )
    assert etree.QName(event.element).localname == "VOEvent"
    assert encode(event, NOW) == bat_packet


def test_voevent_without_namespace_is_an_event() -> None:
    assert decode(b'<VOEvent role="utility" ivorn="ivo://a/b#c"/>') == Event(
        b'<VOEvent role="utility" ivorn="ivo://a/b#c"/>',
        "ivo://a/b#c",
        "utility",
        etree.Element("x"),
    )


def test_a_voevent_without_role_is_an_observation_as_its_schema_says() -> None:
    """The packet tools read it so; the broker refused it ("unknown role None")."""
    event = decode(b'<VOEvent ivorn="ivo://a/b#1"/>')
    assert (event.role, event.role_given) == ("observation", False)
    assert decode(b'<VOEvent role="observation" ivorn="ivo://a/b#1"/>').role_given


@pytest.mark.parametrize(
    ("payload", "error", "text"),
    [
        (b'<VOEvent role="observation"/>', MalformedMessage, "no ivorn attribute"),
        (b'<Transport role="hello"/>', UnknownMessage, "unknown role 'hello'"),
        (b"<Transport/>", UnknownMessage, "unknown role None"),
        (b"<rss/>", UnknownMessage, "'rss'"),
    ],
)
def test_unknown_and_incomplete_messages_are_named(
    payload: bytes, error: type[Exception], text: str
) -> None:
    with pytest.raises(error, match=None) as caught:
        decode(payload)
    assert text in str(caught.value)


def test_a_voevent_of_an_unknown_role_is_still_an_event_for_its_receiver_to_judge() -> None:
    """It was an unknown message, which a broker closes on without a word; Comet, as vohub
    now, naks it, so its author learns why."""
    event = decode(b'<VOEvent role="rumour" ivorn="ivo://a/b#1"/>')
    assert (type(event), event.ivorn, event.role) == (Event, "ivo://a/b#1", "rumour")


def test_another_root_with_a_role_and_ivorn_is_an_event_only_where_a_receiver_asks() -> None:
    """Comet's receive port reads it as an event and naks it; a subscriber or an author
    still takes it for what it is, no VOEvent."""
    alert = b'<Alert role="test" ivorn="ivo://a/b#1"/>'
    event = decode(alert, any_root=True)
    assert (type(event), event.ivorn, event.role, event.root_name) == (
        Event,
        "ivo://a/b#1",
        "test",
        "Alert",
    )
    assert parse_event(alert, any_root=True).root_name == "Alert"
    assert decode(b'<VOEvent role="test" ivorn="ivo://a/b#1"/>').root_name == "VOEvent"
    with pytest.raises(UnknownMessage, match="root element 'Alert' is neither"):
        parse_event(alert)
    for half in (b'<Alert role="test"/>', b'<Alert ivorn="ivo://a/b#1"/>'):
        with pytest.raises(UnknownMessage, match="root element 'Alert' is neither"):
            decode(half, any_root=True)
    with pytest.raises(UnknownMessage, match="unknown role 'test'"):
        decode(b'<Transport role="test" ivorn="ivo://a/b#1"/>', any_root=True)


def test_parse_event_refuses_transport_messages() -> None:
    with pytest.raises(UnknownMessage, match="expected a VOEvent, got a Transport 'iamalive'"):
        parse_event(encode(IAmAlive(BROKER), NOW))
