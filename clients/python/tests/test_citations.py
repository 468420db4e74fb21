"""The citation-network walk, on made-up networks (no server)."""

from __future__ import annotations

from collections.abc import Sequence

from vohub.client.citations import citation_map

# A GRB followed up twice, one follow-up refined twice in a chain, and a cycle of two packets.
NETWORK: dict[str, tuple[list[str], list[str]]] = {
    "grb": ([], ["xrt", "uvot"]),
    "xrt": (["grb"], ["xrt2"]),
    "uvot": (["grb", "not-archived"], []),
    "xrt2": (["xrt"], ["xrt3"]),
    "xrt3": (["xrt2"], []),
    "a": (["b"], ["b"]),
    "b": (["a"], ["a"]),
}


class Recorder:
    """``links`` over NETWORK, remembering which packets were asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, ivorn: str) -> tuple[Sequence[str], Sequence[str]] | None:
        self.asked.append(ivorn)
        return NETWORK.get(ivorn)


def test_whole_network_from_any_member() -> None:
    whole = {
        "grb": {"xrt", "uvot"},
        "not-archived": {"uvot"},
        "xrt": {"xrt2"},
        "xrt2": {"xrt3"},
    }
    for origin in ("grb", "xrt3", "uvot"):
        assert citation_map(origin, NETWORK.get, max_depth=None) == whole


def test_depth_counts_citations_either_way() -> None:
    # xrt3 -> xrt2 (1) -> xrt (2) -> grb (3) -> uvot (4): uvot's refs appear from depth 4 on.
    assert "not-archived" not in citation_map("xrt3", NETWORK.get, max_depth=3)
    assert citation_map("xrt3", NETWORK.get, max_depth=4)["not-archived"] == {"uvot"}
    assert citation_map("xrt3", NETWORK.get, max_depth=0) == {"xrt2": {"xrt3"}}


def test_each_packet_is_asked_for_once_and_cycles_end() -> None:
    links = Recorder()
    assert citation_map("a", links, max_depth=None) == {"a": {"b"}, "b": {"a"}}
    assert links.asked == ["a", "b"]
    links = Recorder()
    citation_map("grb", links, max_depth=None)
    assert sorted(links.asked) == ["grb", "not-archived", "uvot", "xrt", "xrt2", "xrt3"]


def test_a_packet_nobody_cites_and_citing_nothing_maps_to_nothing() -> None:
    assert citation_map("alone", lambda ivorn: ([], []), max_depth=5) == {}
