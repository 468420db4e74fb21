"""Validator: the packet must be a VOEvent that the configured validation level accepts.

*strict*: it validates against the XSD of its version (2.0 or 2.1; Comet takes 2.0 only) and
its IVORN is an IVOID with a ``#local_ID``. *lenient*: the IVORN only needs a ``#local_ID``
(it is the dedup key); any version is taken. At either level the role must be one of the four
(``observation``, ``prediction``, ``utility``, ``test``): subscribers and the archive sort by
it, and the root must be ``VOEvent`` (an author's packet with another root, a role and an IVORN
is read as an event, as Comet reads it, so that it gets a nak). Packets from upstream brokers are
judged the same way, but an upstream never gets a nak (see ``vtp_server``/``upstream``).
"""

from __future__ import annotations

from vohub.broker.pipeline import Refusal, Source
from vohub.voevent.errors import InvalidIvorn, NotAVOEvent, VOEventError
from vohub.voevent.ivorn import parse_ivorn
from vohub.voevent.schema import validate_tree
from vohub.vtp.errors import UnknownMessage
from vohub.vtp.messages import Event
from vohub.vtp.roles import check_role


class CheckSchema:
    """Refuse packets that are not valid VOEvents at the chosen level."""

    def __init__(self, strict: bool) -> None:
        self.strict = strict

    def __call__(self, event: Event, source: Source) -> Refusal | None:
        if event.root_name != "VOEvent":
            reason = f"root element is <{event.root_name}>, not <VOEvent>"
            return Refusal("schema", NotAVOEvent(event.ivorn, reason).nak_reason)
        try:
            check_role(event)
            parse_ivorn(event.ivorn, require_local_id=True)
            if self.strict:
                validate_tree(event.element, event.ivorn)
        except UnknownMessage as exc:
            return Refusal("role", exc.detail)
        except InvalidIvorn as exc:
            return Refusal("ivorn", exc.nak_reason)
        except VOEventError as exc:
            return Refusal("schema", exc.nak_reason)
        return None
