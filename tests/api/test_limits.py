"""The service's limits, each configurable: request body size (refused before it is read), uploads, features per
page, and sign-in attempts per address. A refused request changes nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pytest
from backends import BACKENDS, settings_for, town_copy, with_account
from fastapi.testclient import TestClient
from PIL import Image

from api.main import create_app
from api.ratelimit import SWEEP_ABOVE, SlidingWindow
from onemap.settings import DEMO_GPKG

PASSWORD = "correct horse battery"
LIMITS = {"max_request_bytes": 4096, "max_photo_bytes": 2**16, "login_limit": 3, "max_limit": 50}


@pytest.fixture(params=BACKENDS)
def client(request, tmp_path) -> Iterator[TestClient]:
    location = with_account(town_copy(request.param, DEMO_GPKG, tmp_path), "admin", PASSWORD, "admin")
    with TestClient(create_app(settings_for(location, **LIMITS))) as client:
        token = client.post("/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _count(client: TestClient) -> int:
    return client.get("/ledger/hazards", params={"limit": 1}).json()["count"]


def test_a_body_declared_too_large_is_refused_before_it_is_read(client: TestClient) -> None:
    before = _count(client)
    response = client.post(
        "/ledger/hazards", content=b"{" + b" " * 5000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "PayloadTooLarge"
    assert "too large: 5002 bytes, at most 4096" in response.json()["description"]
    assert _count(client) == before


def test_a_body_sent_without_a_length_is_counted_as_it_arrives(client: TestClient) -> None:
    before = _count(client)

    def chunks() -> Iterator[bytes]:
        yield b"{"
        for _ in range(10):
            yield b" " * 1000
        yield b"}"

    response = client.post("/ledger/hazards", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "at most 4096" in response.json()["description"]
    assert _count(client) == before


def _png(side: int) -> bytes:
    buffer = io.BytesIO()
    noise = np.random.default_rng(1).integers(0, 255, (side, side, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_photo_has_its_own_limit_above_the_request_limit(client: TestClient) -> None:
    fid = client.get("/ledger/hazards", params={"limit": 1}).json()["hazards"][0]["id"]
    small, large, huge = _png(60), _png(200), _png(400)
    assert 4096 < len(small) < 2**16 < len(large) < 2**17 < len(huge)
    before = [p["id"] for p in client.get(f"/ledger/hazards/{fid}/photos").json()["photos"]]
    ok = client.post(
        f"/ledger/hazards/{fid}/photos", files={"file": ("a.png", small, "image/png")}, data={"kind": "before"}
    )
    assert ok.status_code == 201, ok.text
    refused = client.post(
        f"/ledger/hazards/{fid}/photos", files={"file": ("b.png", large, "image/png")}, data={"kind": "before"}
    )
    assert refused.status_code == 413
    assert "photo too large: at most 65536 bytes" in refused.json()["description"]
    past_the_form = client.post(
        f"/ledger/hazards/{fid}/photos", files={"file": ("c.png", huge, "image/png")}, data={"kind": "before"}
    )
    assert past_the_form.status_code == 413
    assert "request body is too large" in past_the_form.json()["description"]
    assert [p["id"] for p in client.get(f"/ledger/hazards/{fid}/photos").json()["photos"]] == before + [ok.json()["id"]]


def test_a_page_holds_at_most_the_configured_number_of_features(client: TestClient) -> None:
    body = client.get("/collections/buildings/items", params={"limit": 51}).json()
    assert body["numberReturned"] == 50
    assert any(link["rel"] == "next" for link in body["links"])


def test_sign_in_attempts_are_limited_per_address(client: TestClient) -> None:
    for _ in range(2):  # the fixture's own sign-in was the first of three
        assert client.post("/auth/token", data={"username": "admin", "password": "wrong"}).status_code == 401
    refused = client.post("/auth/token", data={"username": "admin", "password": PASSWORD})
    assert refused.status_code == 429
    assert "too many sign-in attempts" in refused.json()["description"]
    assert 0 < int(refused.headers["Retry-After"]) <= 600


def test_idle_addresses_are_forgotten() -> None:
    window = SlidingWindow(2, 600)
    for i in range(SWEEP_ABOVE + 1):
        window.hit(f"10.0.{i // 256}.{i % 256}", now=0.0)
    window.hit("192.0.2.1", now=601.0)
    assert len(window._events) == 1
