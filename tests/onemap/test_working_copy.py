"""The shipped demo town is never written to: the service and accounts work on a copy in the user's data folder."""

from __future__ import annotations

from onemap.common import working_copy
from onemap.settings import DEMO_GPKG


def test_the_demo_is_served_from_aworking_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("ONEMAP_HOME", str(tmp_path / "home"))
    copy = working_copy(DEMO_GPKG)
    assert copy == tmp_path / "home" / DEMO_GPKG.name and copy.read_bytes() == DEMO_GPKG.read_bytes()
    copy.write_bytes(b"edited")
    assert working_copy(DEMO_GPKG).read_bytes() == b"edited"  # an existing copy is kept, with its ledger
    other = tmp_path / "mine.gpkg"
    assert working_copy(other) == other
