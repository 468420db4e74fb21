"""VOEvent toolkit: safe parsing, XSD validation (2.0 and 2.1), a typed model, building packets.

>>> from vohub.voevent import parse
>>> packet = parse(b'<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0"'
...                b' ivorn="ivo://example.org/demo#1" role="test"/>')
>>> packet.stream, packet.role
('example.org/demo', 'test')
"""

from vohub.voevent.astro import to_error_angle, to_skycoord, to_time
from vohub.voevent.build import PacketBuilder, make_param
from vohub.voevent.compat import (
    MultiDict,
    Position2D,
    get_event_position,
    get_event_time_as_utc,
    get_grouped_params,
    get_toplevel_params,
)
from vohub.voevent.errors import (
    ForbiddenXML,
    InvalidIvorn,
    MalformedXML,
    NotAVOEvent,
    PacketTooLarge,
    SchemaViolation,
    UnreadableSource,
    UnsupportedVersion,
    VOEventError,
)
from vohub.voevent.ivorn import Ivorn, is_valid_ivorn, parse_ivorn, stamp, stream_id, stream_of
from vohub.voevent.loader import is_valid, parse, validate
from vohub.voevent.model import (
    CITE_TYPES,
    ROLES,
    Author,
    Citation,
    Group,
    How,
    Inference,
    Packet,
    Param,
    Position,
    Reference,
    Table,
    Why,
)
from vohub.voevent.timescale import to_utc
from vohub.voevent.xmlsafe import canonical_xml

__all__ = [
    "CITE_TYPES",
    "ROLES",
    "Author",
    "Citation",
    "ForbiddenXML",
    "Group",
    "How",
    "Inference",
    "InvalidIvorn",
    "Ivorn",
    "MalformedXML",
    "MultiDict",
    "NotAVOEvent",
    "Packet",
    "PacketBuilder",
    "PacketTooLarge",
    "Param",
    "Position",
    "Position2D",
    "Reference",
    "SchemaViolation",
    "Table",
    "UnreadableSource",
    "UnsupportedVersion",
    "VOEventError",
    "Why",
    "canonical_xml",
    "get_event_position",
    "get_event_time_as_utc",
    "get_grouped_params",
    "get_toplevel_params",
    "is_valid",
    "is_valid_ivorn",
    "make_param",
    "parse",
    "parse_ivorn",
    "stamp",
    "stream_id",
    "stream_of",
    "to_error_angle",
    "to_skycoord",
    "to_time",
    "to_utc",
    "validate",
]
