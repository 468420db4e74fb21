"""The forms the gateway's parsers read (``params.py``), as regular expressions for OpenAPI.

A value a pattern admits must be one the gateway accepts: a schema-valid value that still gets
a 400 misleads generated clients. Each pattern is tested against its parser both ways.
"""

from __future__ import annotations

# Date-times (``parse_datetime``): years 0001-9999, real calendar days (29 February in leap
# years only), hours 0-23, minutes and seconds 0-59, offsets to ±23:59.
_YEAR = r"([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})"
_LEAP_YEAR = r"([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
_TIME = r"([01][0-9]|2[0-3])(:?[0-5][0-9](:?[0-5][0-9]([.,][0-9]+)?)?)?"
_ZONE = r"(Z|[-+]([01][0-9]|2[0-3])(:?[0-5][0-9])?)"
_DAY28 = r"(0?[1-9]|1[0-9]|2[0-8])"


def _month(months: str, days: str) -> str:
    """``months`` with, maybe, one of ``days`` and a time. A month of one digit is not followed
    by another: the gateway reads two (``2015110`` is month 11, day 0)."""
    return rf"-?({months})(-?({days})([T ]{_TIME}{_ZONE}?)?)?"


def _months(february: str) -> str:
    return "|".join(
        (
            _month(r"0[13578]|1[02]|[13578](?![0-9])", rf"{_DAY28}|29|3[01]"),
            _month(r"0[469]|11|[469](?![0-9])", rf"{_DAY28}|29|30"),
            _month(r"02|2(?![0-9])", february),
        )
    )


DATETIME_TEXT = rf"^\s*({_LEAP_YEAR}({_months(f'{_DAY28}|29')})?|{_YEAR}({_months(_DAY28)})?)\s*$"

# Cones (``parse_cone``): three JSON numbers, each maybe in numpy 2's repr (``np.float64(0.5)``),
# bracketed or bare; ra below 1e308 (a double's range), dec in [-90, 90], radius in [0, 180], each
# with an exponent only below 10 (``1e-05``, as Python writes small numbers; ``9e1`` and
# ``1e+16`` are refused here though read).
_WS = r"[ \t\n\r]*"
_FRACTION = r"(\.[0-9]+)?"
_SMALL = rf"[0-9]{_FRACTION}[eE]-[0-9]+"
_RA = rf"-?((0|[1-9][0-9]{{0,307}}){_FRACTION}|{_SMALL})"
_DEC = rf"-?(([0-9]|[1-8][0-9]){_FRACTION}|90(\.0+)?|{_SMALL})"
_RADIUS = rf"(([0-9]|[1-9][0-9]|1[0-7][0-9]){_FRACTION}|180(\.0+)?|{_SMALL})"
_CONE_ITEMS = ",".join(
    rf"{_WS}({n}|np\.[A-Za-z0-9_]+\({_WS}{n}{_WS}\)){_WS}" for n in (_RA, _DEC, _RADIUS)
)
CONE_TEXT = rf"^{_WS}(\[{_CONE_ITEMS}\]|{_CONE_ITEMS}){_WS}$"
