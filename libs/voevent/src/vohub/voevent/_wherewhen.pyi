"""Read ``WhereWhen/ObsDataLocation`` elements into positions in degrees with UTC times."""

from lxml import etree

from vohub.voevent.model import Position

#: Position2D units we convert, as degrees per unit.
DEGREES_PER_UNIT: dict[str, float]

def read_positions(
    wherewhen: etree._Element, timescale: str | None, problems: list[str]
) -> tuple[Position, ...]: ...
