"""What fuzzing the API found, each kept as a worked example so it stays fixed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import shapely.geometry
from backends import BACKENDS, settings_for, town_copy, with_account
from fastapi.testclient import TestClient

from api.main import create_app
from onemap.settings import DEMO_GPKG

PASSWORD = "correct horse battery"
SEAT = "150525107201"


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, tmp_path_factory) -> Iterator[TestClient]:
    location = town_copy(request.param, DEMO_GPKG, tmp_path_factory.mktemp("findings"))
    with_account(location, "admin", PASSWORD, "admin")
    with TestClient(create_app(settings_for(location))) as client:
        token = client.post("/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def test_a_vanishing_lixel_length_is_refused_not_run(client: TestClient) -> None:
    """lixel_m=5e-324 once cut the roads into infinitely many pieces and failed with a 500."""
    response = client.post("/analysis/nkde", params={"lixel_m": 5e-324})
    assert response.status_code == 400
    assert "lixel_m" in response.json()["description"]
    assert client.post("/analysis/nkde", params={"bandwidth_m": 1e9}).status_code == 400


def test_a_hazard_registered_through_the_api_shows_in_popups_at_once(client: TestClient) -> None:
    """A new hazard's dates were served as dates beside the stored hazards' ISO text, so sorting the open hazards
    near a village for its popup failed with a 500 until the service restarted."""
    villages = client.get("/collections/villages/items", params={"limit": 100}).json()["features"]
    village = next(f for f in villages if f["properties"]["code"] == SEAT)
    point = shapely.geometry.shape(village["geometry"]).representative_point()
    new = {
        "sector": "fire",
        "description": "村委会门前柴草垛占用消防车通道",
        "channel": "department_inspection",
        "responsible_unit": "义隆永村民委员会",
        "responsible_person": "赵六",
        "lon": point.x,
        "lat": point.y,
    }
    registered = client.post("/ledger/hazards", json=new)
    assert registered.status_code == 201, registered.text
    popup = client.get(f"/map/popup/villages/{village['id']}")
    assert popup.status_code == 200, popup.text
    assert "柴草垛" in popup.text
    step = {"action": "assess", "version": 1, "fields": {"level": "general"}}
    assert client.post(f"/ledger/hazards/{registered.json()['id']}/steps", json=step).status_code == 200
    assert client.get(f"/map/popup/villages/{village['id']}").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/ledger/hazards/220874839074920595456/photos"),
        ("GET", "/ledger/photos/1690969765078211707797504"),
        ("POST", "/ledger/reports/3012839400671682803919749120/reject"),
        ("GET", "/map/popup/villages/99999999999999999999999"),
        ("GET", "/collections/villages/items/99999999999999999999999"),
    ],
)
def test_an_id_beyond_64_bits_is_a_client_error(client: TestClient, method: str, path: str) -> None:
    """Such ids once reached the database driver and failed there with a 500."""
    response = client.request(method, path)
    assert 400 <= response.status_code < 500, response.text
