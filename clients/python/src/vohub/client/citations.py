"""The citation network around one packet: a breadth-first walk over citations both ways.

The walk is sans-IO: it asks a ``links`` function for each packet's citations, so the client
can answer from apiv2 (one request a packet) or apiv1 (a synopsis and a list a packet).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

#: ``links(ivorn)``: the IVORNs the packet cites and the IVORNs of the archived packets that
#: cite it; None when the archive lacks the packet (it is known only from packets citing it).
Links = Callable[[str], tuple[Sequence[str], Sequence[str]] | None]


def citation_map(origin: str, links: Links, max_depth: int | None = 5) -> dict[str, set[str]]:
    """``{cited IVORN: IVORNs of the packets citing it}`` for every citation made or received by
    a packet within ``max_depth`` citations of ``origin`` (0: ``origin``'s own; None: the whole
    connected network).

    The shape is voeventdb.remote's ``citation_network_map``. The walk is breadth-first, so
    what it finds depends only on the network and ``max_depth``, and each packet is asked for
    once. A cited packet the archive lacks appears as a key but is not walked through.

    >>> graph = {"grb": ([], ["xrt", "uvot"]), "xrt": (["grb"], []), "uvot": (["grb", "gone"], [])}
    >>> citation_map("xrt", graph.get) == {"grb": {"xrt", "uvot"}, "gone": {"uvot"}}
    True
    >>> citation_map("xrt", graph.get, max_depth=1) == {"grb": {"xrt", "uvot"}}
    True
    """
    cited_by: dict[str, set[str]] = {}
    depth = {origin: 0}
    queue = deque([origin])
    while queue:
        ivorn = queue.popleft()
        found = links(ivorn)
        if found is None:
            continue
        refs, citing = found
        for ref in refs:
            cited_by.setdefault(ref, set()).add(ivorn)
        if citing:
            cited_by.setdefault(ivorn, set()).update(citing)
        if max_depth is None or depth[ivorn] < max_depth:
            for other in (*refs, *citing):
                if other not in depth:
                    depth[other] = depth[ivorn] + 1
                    queue.append(other)
    return cited_by
