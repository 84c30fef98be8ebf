"""Settings come from ONEMAP_* variables, with defaults that serve the demo town."""

import pytest
from pydantic import ValidationError

from onemap.settings import DEMO_GPKG, NAIMAN_REGION, Settings


def test_defaults_serve_the_demo_town(monkeypatch):
    for name in ("ONEMAP_DATA", "ONEMAP_REGION_BBOX", "ONEMAP_DEFAULT_LIMIT", "ONEMAP_MAX_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)
    assert settings.data == DEMO_GPKG
    assert settings.region_bbox == NAIMAN_REGION


def test_environment_overrides_data_and_region(monkeypatch, tmp_path):
    monkeypatch.setenv("ONEMAP_DATA", str(tmp_path / "town.gpkg"))
    monkeypatch.setenv("ONEMAP_REGION_BBOX", "119, 41, 122, 44")
    settings = Settings(_env_file=None)
    assert settings.data == tmp_path / "town.gpkg"
    assert settings.region_bbox == (119.0, 41.0, 122.0, 44.0)


@pytest.mark.parametrize("value", ["119,41,x,44", "122,41,119,44", "1,2,3"])
def test_malformed_region_is_refused_with_the_expected_form(monkeypatch, value):
    monkeypatch.setenv("ONEMAP_REGION_BBOX", value)
    with pytest.raises(ValidationError, match="region_bbox"):
        Settings(_env_file=None)
