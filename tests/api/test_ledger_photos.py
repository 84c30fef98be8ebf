"""Before/after photos: real images only, within size, by those who may change the hazard, recorded in its history."""

from __future__ import annotations

import hashlib
import io
import shutil
from collections.abc import Iterator

import numpy as np
import pytest
from backends import BACKENDS, settings_for, town_on
from fastapi.testclient import TestClient
from PIL import Image

from api.main import create_app
from onemap.settings import DEMO_GPKG
from store.users import UserStore

SEAT, OTHER = "150525107201", "150525107202"
PASSWORD = "correct horse battery"
LIMIT = 200_000


@pytest.fixture(scope="module", params=BACKENDS)
def client(request, tmp_path_factory) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("photos") / "town.gpkg"
    shutil.copy(DEMO_GPKG, path)
    users = UserStore(path)
    users.add("seat", PASSWORD, "village", village_code=SEAT)
    users.add("other", PASSWORD, "village", village_code=OTHER)
    users.add("emergency", PASSWORD, "emergency")
    users.close()
    with (
        town_on(request.param, path) as location,
        TestClient(create_app(settings_for(location, max_photo_bytes=LIMIT))) as test_client,
    ):
        yield test_client


def _auth(client, who):
    token = client.post("/auth/token", data={"username": who, "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _image(kind: str, size: int = 64, noise: bool = False) -> bytes:
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8) if noise else np.full((size, size, 3), 200, np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=kind)
    return buffer.getvalue()


def _seat_hazard(client) -> int:
    hazards = client.get("/ledger/hazards", headers=_auth(client, "seat")).json()["hazards"]
    return next(h["id"] for h in hazards if h["status"] == "rectifying")


def _upload(client, fid, who, data, name="photo.jpg", kind="before"):
    return client.post(
        f"/ledger/hazards/{fid}/photos",
        data={"kind": kind},
        files={"file": (name, data, "image/jpeg")},
        headers=_auth(client, who),
    )


def test_photos_are_kept_listed_served_and_recorded(client):
    fid = _seat_hazard(client)
    version = client.get(f"/ledger/hazards/{fid}", headers=_auth(client, "seat")).json()["version"]
    png, jpeg = _image("PNG"), _image("JPEG")
    first = _upload(client, fid, "seat", png, name="整改前.jpg")  # named .jpg, really a PNG: the bytes decide
    assert first.status_code == 201 and first.json()["media_type"] == "image/png"
    second = _upload(client, fid, "seat", jpeg, kind="after")
    assert second.status_code == 201 and second.json()["version"] == version + 2
    listed = client.get(f"/ledger/hazards/{fid}/photos", headers=_auth(client, "emergency")).json()["photos"]
    assert [(p["kind"], p["media_type"]) for p in listed] == [("before", "image/png"), ("after", "image/jpeg")]
    assert listed[0]["sha256"] == hashlib.sha256(png).hexdigest()
    served = client.get(f"/ledger/photos/{first.json()['id']}", headers=_auth(client, "seat"))
    assert served.content == png and served.headers["content-type"] == "image/png"
    events = client.get(f"/ledger/hazards/{fid}/history", headers=_auth(client, "seat")).json()["events"]
    assert [e["action"] for e in events[-2:]] == ["attach", "attach"] and "整改后" in events[-1]["note"]


def test_not_a_photo_too_big_or_not_yours_is_refused_and_nothing_kept(client):
    fid = _seat_hazard(client)
    kept = _upload(client, fid, "seat", _image("PNG")).json()["id"]  # one photo that other villages must not see
    before = client.get(f"/ledger/hazards/{fid}/photos", headers=_auth(client, "seat")).json()["photos"]
    text = _upload(client, fid, "seat", "这不是照片".encode() * 10)
    assert text.status_code == 400 and "JPEG" in text.json()["description"]
    truncated = _upload(client, fid, "seat", _image("JPEG", 256, noise=True)[:2000])
    assert truncated.status_code == 400
    big = _image("PNG", 400, noise=True)
    assert len(big) > LIMIT
    too_big = _upload(client, fid, "seat", big)
    assert too_big.status_code == 413
    assert _upload(client, fid, "other", _image("PNG")).status_code == 403
    assert _upload(client, fid, "emergency", _image("PNG")).status_code == 403
    assert _upload(client, fid, "seat", _image("PNG"), kind="during").status_code == 400
    assert client.get(f"/ledger/hazards/{fid}/photos", headers=_auth(client, "seat")).json()["photos"] == before
    assert client.get(f"/ledger/photos/{kept}", headers=_auth(client, "other")).status_code == 403
    assert client.get("/ledger/photos/99999", headers=_auth(client, "seat")).status_code == 404
