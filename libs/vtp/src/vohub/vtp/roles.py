"""The four VOEvent roles, and the check by which a receiver refuses an event of another role.

A VOEvent of another role is still an event on the wire (:func:`~vohub.vtp.messages.decode`
returns it), for its receiver to refuse: a vohub broker naks it, so its author learns why
(Comet closes the connection without a reply); a subscriber acks it all the same (a nak would
get it cut off, VTP Note §6.4) and drops it.
"""

from __future__ import annotations

from typing import Final

from vohub.vtp.errors import UnknownMessage
from vohub.vtp.messages import Event

#: The roles the VOEvent schema allows.
VOEVENT_ROLES: Final = frozenset({"observation", "prediction", "utility", "test"})


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
