"""Fixtures for the VTP tests: the real packets in data/voevents and Comet's Transport schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from vohub.testing.comet_broker import find_comet_venv

ROOT = Path(__file__).resolve().parents[3]
VOEVENT_DIR = ROOT / "data" / "voevents"


@pytest.fixture(scope="session")
def transport_schema() -> etree.XMLSchema:
    """Comet's transport-1.1.xsd, read from the installed Comet peer (never copied here)."""
    venv = find_comet_venv(ROOT)
    [xsd] = venv.glob("lib/python3*/site-packages/comet/schema/transport-1.1.xsd")
    return etree.XMLSchema(etree.parse(str(xsd)))


@pytest.fixture
def bat_packet() -> bytes:
    """A Swift BAT GRB position notice (VOEvent 2.0, Packet_Type 61) that Comet accepts."""
    return (VOEVENT_DIR / "fourpisky-core" / "BAT_GRB_Pos_558756-820.xml").read_bytes()


@pytest.fixture
def gaia_packet() -> bytes:
    """A Gaia alert (VOEvent 2.0, no Packet_Type) that Comet accepts."""
    return (VOEVENT_DIR / "fourpisky-core" / "Gaia16ajo.xml").read_bytes()
