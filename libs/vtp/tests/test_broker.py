"""Broker-side state machines, driven with a fake clock: the receive port and the broadcast port."""

from __future__ import annotations

import pytest

from vohub.vtp.broker import (
    IAMALIVE_INTERVAL,
    MAX_OUTSTANDING_ACKS,
    BroadcastConnection,
    Offer,
    ReceiverConnection,
    ReceiverState,
)
from vohub.vtp.errors import FrameTooLarge, IllegalTransition, UnknownMessage
from vohub.vtp.framing import FrameDecoder, encode_frame
from vohub.vtp.messages import (
    Ack,
    Authenticate,
    Event,
    IAmAlive,
    Message,
    Nak,
    Unreadable,
    decode,
    encode,
    parse_event,
)

HUB = "ivo://vohub.test/hub"
PEER = "127.0.0.1:40000"
T0 = 1_795_592_693.0


def event(n: int = 1, *, role: str = "observation", packet_type: str = "61") -> Event:
    return parse_event(
        f'<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" role="{role}" '
        f'ivorn="ivo://a.b/c#{n}"><What><Param name="Packet_Type" value="{packet_type}"/>'
        f"</What></voe:VOEvent>".encode()
    )


def sent(machine: ReceiverConnection | BroadcastConnection) -> list[Message]:
    decoder = FrameDecoder()
    decoder.feed(machine.data_to_send())
    return [decode(p) for p in decoder]


def frame(message: Message, now: float = T0) -> bytes:
    return encode_frame(encode(message, now))


# --- receive port -----------------------------------------------------------------------------


def test_receiver_acks_one_event_then_closes() -> None:
    conn = ReceiverConnection(local_ivo=HUB, now=T0, peer=PEER)
    ev = event()
    wire = frame(ev)
    assert conn.receive_data(wire[:10]) is None
    got = conn.receive_data(wire[10:])
    assert got == ev
    assert got.raw == ev.raw
    assert conn.state is ReceiverState.VALIDATING
    assert not conn.closed
    conn.accept(T0 + 1)
    assert sent(conn) == [Ack("ivo://a.b/c#1", HUB)]
    assert conn.closed


def test_receiver_nak_carries_comet_reason_text() -> None:
    conn = ReceiverConnection(local_ivo=HUB, now=T0)
    conn.receive_data(frame(event()))
    conn.reject("Previously seen by this broker", T0)
    [nak] = sent(conn)
    assert nak == Nak("ivo://a.b/c#1", HUB, "Event rejected: Previously seen by this broker")


def test_receiver_ignores_a_second_pipelined_event() -> None:
    conn = ReceiverConnection(local_ivo=HUB, now=T0)
    assert conn.receive_data(frame(event(1)) + frame(event(2))) == event(1)
    assert conn.receive_data(frame(event(3))) is None
    conn.accept(T0)
    assert sent(conn) == [Ack("ivo://a.b/c#1", HUB)]


def test_receiver_closes_without_reply_on_transport_message() -> None:
    conn = ReceiverConnection(local_ivo=HUB, now=T0, peer=PEER)
    conn.data_to_send()
    with pytest.raises(UnknownMessage, match="expected a VOEvent on the receive port") as caught:
        conn.receive_data(frame(IAmAlive("ivo://x/y")))
    assert PEER in str(caught.value)
    assert conn.closed
    assert conn.data_to_send() == b""


def test_receiver_closes_on_oversize_prefix() -> None:
    conn = ReceiverConnection(local_ivo=HUB, now=T0, max_frame_size=99_999)
    with pytest.raises(FrameTooLarge):
        conn.receive_data((100_000).to_bytes(4, "big"))
    assert conn.closed


def test_receiver_deadline_is_fixed_from_connect() -> None:
    conn = ReceiverConnection(local_ivo=HUB, now=T0, timeout=20.0)
    conn.receive_data(frame(event())[:5])
    assert not conn.timed_out(T0 + 19.9)
    assert conn.timed_out(T0 + 20.0)
    conn.receive_data(frame(event())[5:])
    conn.accept(T0 + 21)
    assert not conn.timed_out(T0 + 100)


@pytest.mark.parametrize("action", ["accept", "reject"])
def test_receiver_verdict_before_event_is_illegal(action: str) -> None:
    conn = ReceiverConnection(local_ivo=HUB, now=T0, peer=PEER)
    with pytest.raises(IllegalTransition, match=f"cannot {action}: connection is awaiting-event"):
        conn.accept(T0) if action == "accept" else conn.reject("x", T0)


def test_receiver_second_verdict_is_illegal() -> None:
    conn = ReceiverConnection(local_ivo=HUB, now=T0)
    conn.receive_data(frame(event()))
    conn.accept(T0)
    with pytest.raises(IllegalTransition, match="connection is closed"):
        conn.reject("late", T0)


# --- broadcast port ---------------------------------------------------------------------------


def subscriber(now: float = T0) -> BroadcastConnection:
    conn = BroadcastConnection(local_ivo=HUB, now=now, peer=PEER)
    assert sent(conn) == [Authenticate(HUB)]
    return conn


def test_broadcast_sends_authenticate_at_connect_with_timestamp() -> None:
    conn = BroadcastConnection(local_ivo=HUB, now=T0)
    [greeting] = sent(conn)
    assert isinstance(greeting, Authenticate)
    assert greeting.timestamp == "2026-11-25T07:44:53Z"


def test_broadcast_relays_original_bytes_and_counts_acks_by_role_only() -> None:
    conn = subscriber()
    ev = event()
    assert conn.offer(ev) is Offer.SENT
    assert conn.data_to_send() == encode_frame(ev.raw)
    assert conn.outstanding_acks == 1
    conn.receive_data(frame(Ack("ivo://some/other#ivorn", "ivo://s/x")))  # not matched to IVORNs
    assert conn.outstanding_acks == 0
    conn.receive_data(frame(Ack("ivo://unsolicited#1")))
    assert conn.outstanding_acks == 0  # no credit for unsolicited acks


def test_broadcast_tick_pings_then_drops_a_dead_peer() -> None:
    conn = subscriber()
    conn.tick(T0 + IAMALIVE_INTERVAL)
    assert sent(conn) == [IAmAlive(HUB)]
    conn.receive_data(frame(IAmAlive(HUB, "ivo://s/x")))
    conn.tick(T0 + 2 * IAMALIVE_INTERVAL)
    assert sent(conn) == [IAmAlive(HUB)]
    assert not conn.closed
    conn.tick(T0 + 3 * IAMALIVE_INTERVAL)
    assert conn.closed
    assert conn.drop_reason == "peer appears to be dead"
    assert conn.data_to_send() == b""


def test_broadcast_drops_a_subscriber_with_ten_unacked_events_at_tick() -> None:
    conn = subscriber()
    for n in range(MAX_OUTSTANDING_ACKS - 1):
        conn.offer(event(n))
    conn.tick(T0 + 60)
    conn.receive_data(frame(IAmAlive(HUB)))
    assert not conn.closed
    conn.offer(event(99))
    conn.tick(T0 + 120)
    assert conn.drop_reason == "peer is not acknowledging events"
    assert conn.offer(event(100)) is Offer.CLOSED


def test_broadcast_ack_rule_can_be_turned_off() -> None:
    conn = BroadcastConnection(local_ivo=HUB, now=T0, max_outstanding_acks=None)
    for n in range(50):
        conn.offer(event(n))
    conn.tick(T0 + 60)
    assert not conn.closed
    assert conn.outstanding_acks == 50


def test_broadcast_dead_check_comes_before_ack_check() -> None:
    conn = subscriber()
    for n in range(MAX_OUTSTANDING_ACKS):
        conn.offer(event(n))
    conn.tick(T0 + 60)  # no iamalive missed yet, so the ack check decides
    assert conn.drop_reason == "peer is not acknowledging events"
    other = subscriber()
    other.tick(T0 + 60)
    for n in range(MAX_OUTSTANDING_ACKS):
        other.offer(event(n))
    other.tick(T0 + 120)
    assert other.drop_reason == "peer appears to be dead"


def test_broadcast_counts_acks_of_any_layout_and_still_sees_a_nak_among_them() -> None:
    conn = BroadcastConnection(local_ivo=HUB, now=T0, peer=PEER, report_acks=False)
    plain = encode_frame(b'<Transport role="ack"><Origin>ivo://a.b/c#1</Origin></Transport>')
    other = encode_frame(b"<?xml version='1.0'?>\n<t:Transport xmlns:t='x' role='ack'/>")
    ours = frame(Ack("ivo://a.b/c#1", "ivo://s/x"))  # the nak below shares its head but the role
    nak = frame(Nak("ivo://a.b/c#2", "ivo://s/x", "no"))
    got = conn.receive_data(plain + plain + other + ours + ours + nak)
    assert [type(m) for m in got] == [Nak]
    assert conn.acks_received == 5
    assert conn.drop_reason == "nak received for ivo://a.b/c#2: no"


def test_broadcast_nak_drops_at_once() -> None:
    conn = subscriber()
    conn.offer(event())
    conn.receive_data(frame(Nak("ivo://a.b/c#1", "ivo://s/x", "I did not like it")))
    assert conn.closed
    assert conn.drop_reason == "nak received for ivo://a.b/c#1: I did not like it"


def test_a_nak_without_a_reason_says_so() -> None:
    conn = subscriber()
    conn.receive_data(frame(Nak("ivo://a.b/c#1", "ivo://s/x", None)))
    assert conn.drop_reason == "nak received for ivo://a.b/c#1: no reason given"


def test_broadcast_filters_replace_on_each_authenticate() -> None:
    conn = subscriber()
    conn.receive_data(frame(Authenticate(HUB, "ivo://s/x", ("//Param[@value='61']",))))
    assert conn.offer(event(1, packet_type="61")) is Offer.SENT
    assert conn.offer(event(2, packet_type="83")) is Offer.FILTERED
    conn.receive_data(frame(Authenticate(HUB, "ivo://s/x", ("//Param[@value='83']",))))
    assert conn.offer(event(3, packet_type="61")) is Offer.FILTERED
    assert conn.offer(event(4, packet_type="83")) is Offer.SENT
    conn.receive_data(frame(Authenticate(HUB, "ivo://s/x")))
    assert conn.offer(event(5, packet_type="61")) is Offer.SENT


def test_broadcast_filters_are_ored_and_apply_to_test_events() -> None:
    conn = subscriber()
    not_test = "/*[local-name()='VOEvent' and @role!='test']"
    conn.receive_data(frame(Authenticate(HUB, None, (not_test, "//Param[@value='61']"))))
    assert conn.offer(event(1, role="observation", packet_type="83")) is Offer.SENT
    assert conn.offer(event(2, role="test", packet_type="61")) is Offer.SENT
    assert conn.offer(event(3, role="test", packet_type="83")) is Offer.FILTERED


def test_broadcast_invalid_filters_are_dropped_and_reported() -> None:
    conn = subscriber()
    conn.receive_data(frame(Authenticate(HUB, None, ("//[bad", "//Param[@value='61']"))))
    assert [e.expression for e in conn.filter_errors] == ["//[bad"]
    assert PEER in str(conn.filter_errors[0])
    assert conn.offer(event(1, packet_type="83")) is Offer.FILTERED
    conn.receive_data(frame(Authenticate(HUB, None, ("//[bad",))))
    assert conn.offer(event(2, packet_type="83")) is Offer.SENT  # nothing valid: everything


def test_broadcast_prefixed_filter_matches_nothing() -> None:
    conn = subscriber()
    conn.receive_data(frame(Authenticate(HUB, None, ("//voe:VOEvent",))))
    assert conn.offer(event()) is Offer.FILTERED


def test_broadcast_never_relays_more_than_the_comet_limit() -> None:
    conn = subscriber()
    big = parse_event(
        b'<VOEvent role="test" ivorn="ivo://a/b#big"><!--' + b"x" * 100_000 + b"--></VOEvent>"
    )
    assert conn.offer(big) is Offer.TOO_LARGE
    assert conn.data_to_send() == b""
    assert conn.outstanding_acks == 0


def test_broadcast_reports_unreadable_frames_and_carries_on() -> None:
    conn = subscriber()
    [item] = conn.receive_data(encode_frame(b"not xml"))
    assert isinstance(item, Unreadable)
    assert PEER in str(item.error)
    assert not conn.closed


def test_broadcast_oversize_frame_drops_the_subscriber() -> None:
    conn = BroadcastConnection(local_ivo=HUB, now=T0, max_frame_size=1000)
    with pytest.raises(FrameTooLarge):
        conn.receive_data((1001).to_bytes(4, "big"))
    assert conn.closed
    assert conn.drop_reason is not None
    assert "frame length 1001" in conn.drop_reason


def test_broadcast_eof_drops() -> None:
    conn = subscriber()
    conn.receive_eof()
    assert conn.drop_reason == "subscriber closed the connection"
    conn.tick(T0 + 60)
    assert conn.data_to_send() == b""
