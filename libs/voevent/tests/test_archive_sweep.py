"""Every packet of every archive tarball parses leniently; the schema-invalid ones are counted.

The four tarballs hold 85 039 real packets.  Exactly 132 are not valid VOEvent 2.0: 98 are
VOEvent 1.1 (no 1.1 schema ships), 6 IPN packets put text inside a Group and 28 GECAM
packets spell ``dataType`` as ``datatype``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vohub.voevent import parse

EXPECTED = {
    "2014-04.001.tar.bz2": (
        14196,
        {
            ("unsupported VOEvent version", "nasa.gsfc.gcn/SWIFT"): 96,
            ("unsupported VOEvent version", "nasa.gsfc.gcn/INTEGRAL"): 2,
            ("schema violation", "nasa.gsfc.gcn/IPN"): 6,
        },
    ),
    "2016-09.001.tar.bz2": (39740, {}),
    "2020-06.002.tar.bz2": (294, {}),
    "2023-11.001.tar.bz2": (30809, {("schema violation", "nasa.gsfc.gcn/GECAM"): 28}),
}


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("tarball", sorted(EXPECTED))
def test_every_archived_packet_parses_leniently(
    tarball: str, tarball_packets: Callable[[Path], Iterator[tuple[str, bytes]]]
) -> None:
    path = Path(__file__).resolve().parents[3] / "data/tarballs" / tarball
    count = 0
    invalid: Counter[tuple[str, str]] = Counter()
    for name, data in tarball_packets(path):
        packet = parse(data, source=name, check_schema=True)
        count += 1
        assert packet.ivorn
        assert packet.raw == data
        verdicts = [p for p in packet.problems if p.startswith(("schema", "unsupported"))]
        if verdicts:
            invalid[verdicts[0].split(":")[0], packet.stream] += 1
    expected_count, expected_invalid = EXPECTED[tarball]
    assert count == expected_count
    assert dict(invalid) == expected_invalid


def test_expected_tarballs_are_all_present(tarballs: list[Path]) -> None:
    assert sorted(p.name for p in tarballs) == sorted(EXPECTED)
