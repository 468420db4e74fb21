"""The four VOEvent roles, and the check by which a receiver refuses an event of another role.

A VOEvent of another role is still an event on the wire (:func:`~vohub.vtp.messages.decode`
returns it), for its receiver to refuse: a vohub broker naks it, so its author learns why
(Comet closes the connection without a reply); a subscriber acks it all the same (a nak would
get it cut off, VTP Note §6.4) and drops it. Not every subscriber acks every event, though:
:func:`acked_by_every_subscriber` tells which a broker may count a missing ack against.
"""

from __future__ import annotations

from typing import Final

from lxml import etree

from vohub.vtp.errors import UnknownMessage
from vohub.vtp.messages import Event

#: The roles the VOEvent schema allows.
VOEVENT_ROLES: Final = frozenset({"observation", "prediction", "utility", "test"})
#: The root namespaces of the VOEvents that pygcn acks (it skips any other without a reply).
PYGCN_NAMESPACES: Final = frozenset(
    {"http://www.ivoa.net/xml/VOEvent/v2.0", "http://www.ivoa.net/xml/VOEvent/v1.1"}
)


def check_role(event: Event) -> None:
    """Raise :class:`~vohub.vtp.errors.UnknownMessage`, naming the IVORN, unless ``event``'s
    role is one of :data:`VOEVENT_ROLES`; its ``detail`` is the reason a receiver gives.

    Examples
    --------
    >>> check_role(Event(b"", "ivo://a.b/c#1", "test"))
    >>> check_role(Event(b"", "ivo://a.b/c#2", "bogus"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vohub.vtp.errors.UnknownMessage: VOEvent role 'bogus' is none of ..., utility (ivorn=...#2)
    """
    if event.role not in VOEVENT_ROLES:
        detail = f"VOEvent role {event.role!r} is none of {', '.join(sorted(VOEVENT_ROLES))}"
        raise UnknownMessage(detail, ivorn=event.ivorn, nak_reason=f"Event rejected: {detail}")


def acked_by_every_subscriber(event: Event) -> bool:
    """Whether every VTP subscriber acks ``event``, so that a missing ack means something.

    Comet's subscriber never acks a VOEvent without a role attribute (``role_given``), and
    pygcn none whose root is not in the VOEvent 2.0 (or 1.1) namespace: 2.1, or none at all.

    Examples
    --------
    >>> from vohub.vtp.messages import parse_event
    >>> head = b'<v:VOEvent xmlns:v="http://www.ivoa.net/xml/VOEvent/v2.%d" ivorn="ivo://a/b#1"'
    >>> [acked_by_every_subscriber(parse_event(head % n + b' role="test"/>')) for n in (0, 1)]
    [True, False]
    >>> acked_by_every_subscriber(parse_event(head % 0 + b"/>"))  # no role
    False
    """
    if not event.role_given:
        return False
    namespace = event.namespace
    if namespace is None:  # not read with the event: from its parsed root
        namespace = etree.QName(event.element).namespace or ""
    return namespace in PYGCN_NAMESPACES
