"""Which events every VTP subscriber acks: what a broker may count a missing ack against."""

from __future__ import annotations

import pytest

from vohub.vtp.messages import parse_event
from vohub.vtp.receiver import peek_event
from vohub.vtp.roles import acked_by_every_subscriber

VOEVENT = "http://www.ivoa.net/xml/VOEvent/"


@pytest.mark.parametrize(
    ("attributes", "acked"),
    [
        (f'xmlns:v="{VOEVENT}v2.0" role="test"', True),
        (f'xmlns:v="{VOEVENT}v1.1" role="test"', True),
        (f'xmlns:v="{VOEVENT}v2.1" role="test"', False),
        (f'xmlns:v="{VOEVENT}v2.0"', False),  # no role attribute
        # a character reference: the root tag is not read plainly, so the packet is parsed
        (f'xmlns:v="{VOEVENT}v2.&#48;" role="test"', True),
        (f'xmlns:v="{VOEVENT}v2.&#49;" role="test"', False),
    ],
)
def test_only_events_that_pygcn_and_comet_both_ack_are_counted(
    attributes: str, acked: bool
) -> None:
    packet = f'<v:VOEvent {attributes} ivorn="ivo://a/b#1"/>'.encode()
    assert acked_by_every_subscriber(parse_event(packet)) is acked
    peeked = peek_event(packet)  # as the broker reads an author's event: no tree yet
    if peeked is not None:
        assert acked_by_every_subscriber(peeked) is acked
        assert peeked.tree is None  # the namespace came with the start tag: nothing parsed


def test_an_event_in_no_namespace_is_not_counted() -> None:
    packet = b'<VOEvent role="test" ivorn="ivo://a/b#1"/>'
    assert not acked_by_every_subscriber(parse_event(packet))
