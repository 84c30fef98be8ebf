"""Security headers on every response, the map pages' Content-Security-Policy, caching of signed-in data, and CORS
(off unless origins are configured)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlsplit

import mercantile
import pytest
from backends import BACKENDS, settings_for, town_copy, with_account
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.main import create_app
from api.security_headers import API_POLICY, DOCS_POLICY, TILE_HOSTS
from onemap.settings import DEMO_GPKG, Settings

PASSWORD = "correct horse battery"
EVIL = "https://evil.example"
FRONT_END = "https://map.example.cn"


@pytest.fixture(scope="module", params=BACKENDS)
def location(request, tmp_path_factory) -> str:
    return with_account(
        town_copy(request.param, DEMO_GPKG, tmp_path_factory.mktemp("headers")), "admin", PASSWORD, "admin"
    )


@pytest.fixture(scope="module")
def client(location) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(location))) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def bearer(client) -> dict[str, str]:
    token = client.post("/auth/token", data={"username": "admin", "password": PASSWORD}).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def _policy(response) -> dict[str, list[str]]:
    """The response's CSP as directive → sources."""
    out = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, *sources = part.split()
        out[name] = sources
    return out


def _tile_path(client) -> str:
    lon, lat = client.get("/collections/villages/items", params={"limit": 1}).json()["features"][0]["geometry"][
        "coordinates"
    ][0][0]
    tile = mercantile.tile(lon, lat, 14)
    return f"/collections/roads/tiles/14/{tile.x}/{tile.y}"


@pytest.mark.parametrize(
    "path",
    ["/map", "/map/popup/villages/1", "/collections", "/collections/nope", "/ledger/hazards", "/static/nope.js",
     "/static/onemap/onemap.js", "/api", "/api.html", "/healthz", "/favicon.ico"],
)  # fmt: skip
def test_every_response_carries_the_fixed_headers(client, path):
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"
    assert "'none'" in _policy(response)["frame-ancestors"]


def test_a_wrong_method_is_answered_with_the_headers_too(client):
    response = client.delete("/collections")
    assert response.status_code == 405 and response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/map", "/map/village/150525107201", "/map/risk", "/map/risk/150525107201"])
def test_a_map_page_lets_only_its_own_scripts_run(client, path):
    first, second = client.get(path), client.get(path)
    policy = _policy(first)
    (nonce,) = [s[len("'nonce-") : -1] for s in policy["script-src"] if s.startswith("'nonce-")]
    assert len(nonce) >= 22 and nonce not in second.text  # a fresh one per response
    assert "'unsafe-inline'" not in policy["script-src"] and "'self'" in policy["script-src"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]
    inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", first.text)
    assert len(inline) >= 2 and all(tag == f'<script nonce="{nonce}">' for tag in inline)
    assert all(src.startswith("/static/") for src in re.findall(r'<script[^>]* src="([^"]+)"', first.text))


def test_the_online_basemaps_tile_hosts_are_allowed_as_images(client):
    img = _policy(client.get("/map"))["img-src"]
    for name in ("osm", "amap"):
        page = client.get("/map", params={"basemap": name}).text
        hosts = {urlsplit(u).hostname for u in re.findall(r'"(https://[^"]+\{z\}[^"]*)"', page)}
        assert hosts, name
        for host in hosts:
            pattern = host.split(".", 1)[1] if "{s}" in host else host
            assert any(source.endswith(pattern) for source in img), (name, host)
    assert set(TILE_HOSTS) <= set(img)
    assert {"https://tile.openstreetmap.org", "https://*.is.autonavi.com", "https://*.tianditu.gov.cn"} <= set(img)


def test_json_and_tiles_get_a_policy_that_loads_nothing(client):
    for path in ("/collections", "/collections/roads/items?limit=1", _tile_path(client)):
        assert client.get(path).headers["content-security-policy"] == API_POLICY


def test_the_api_docs_page_may_load_what_it_names(client):
    """Swagger UI comes from the CDN FastAPI names; every script and stylesheet the page names is allowed."""
    response = client.get("/api.html")
    assert response.status_code == 200 and response.headers["content-security-policy"] == DOCS_POLICY
    policy = _policy(response)
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', response.text)
    styles = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', response.text)
    assert scripts and styles and "'unsafe-inline'" in policy["script-src"]  # its start-up script is inline
    for url in scripts:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" in policy["script-src"]
    for url in styles:
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" in policy["style-src"]


def test_signed_in_data_is_never_cached(client, bearer):
    for path in ("/ledger/hazards", "/ledger/hazards/1", "/ledger/stats", "/auth/me"):
        assert client.get(path, headers=bearer).headers["cache-control"] == "no-store", path
    assert client.get("/ledger/hazards").headers["cache-control"] == "no-store"  # the 401 too
    signed_in = client.post("/auth/token", data={"username": "admin", "password": PASSWORD})
    assert signed_in.headers["cache-control"] == "no-store"
    # Pages and data that a signed-in request may see more of
    for path in ("/map", "/map/village/150525107201", "/collections/hazards/items?limit=5", "/map/search?q=H"):
        assert client.get(path, headers=bearer).headers["cache-control"] == "no-store", path


def test_public_responses_and_those_with_their_own_caching_keep_it(client, bearer):
    assert "cache-control" not in client.get("/map").headers
    assert "cache-control" not in client.get("/collections").headers
    tile = client.get(_tile_path(client), headers=bearer)
    assert tile.status_code in (200, 204) and tile.headers["cache-control"] == "public, max-age=60"
    script = client.get("/static/onemap/onemap.js", headers=bearer)
    assert "etag" in script.headers and "cache-control" not in script.headers


def test_the_sign_in_cookie_counts_as_credentials(location):
    with TestClient(create_app(settings_for(location))) as browser:
        browser.post("/auth/token", params={"session": "cookie"}, data={"username": "admin", "password": PASSWORD})
        assert browser.get("/map").headers["cache-control"] == "no-store"


def test_no_other_origin_may_read_or_preflight_by_default(client, bearer):
    response = client.get("/collections", headers={"Origin": EVIL})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    response = client.get("/ledger/hazards", headers={**bearer, "Origin": EVIL})
    assert "access-control-allow-origin" not in response.headers
    ask = {"Origin": EVIL, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    preflight = client.options("/ledger/hazards", headers=ask)
    assert not preflight.is_success
    assert not any(name.startswith("access-control-") for name in preflight.headers)


def test_configured_origins_and_only_those_may_call_the_api(location):
    with TestClient(create_app(settings_for(location, cors_origins=(FRONT_END,)))) as client:
        allowed = client.get("/collections", headers={"Origin": FRONT_END})
        assert allowed.headers["access-control-allow-origin"] == FRONT_END
        assert "access-control-allow-credentials" not in allowed.headers
        assert "access-control-allow-origin" not in client.get("/collections", headers={"Origin": EVIL}).headers
        ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
        preflight = client.options("/ledger/hazards", headers={"Origin": FRONT_END, **ask})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == FRONT_END
        assert "POST" in preflight.headers["access-control-allow-methods"]
        refused = client.options("/ledger/hazards", headers={"Origin": EVIL, **ask})
        assert not refused.is_success and "access-control-allow-origin" not in refused.headers
        assert refused.headers["x-content-type-options"] == "nosniff"


def test_cors_origins_are_read_from_the_environment_and_checked(monkeypatch):
    assert Settings(_env_file=None).cors_origins == ()
    monkeypatch.setenv("ONEMAP_CORS_ORIGINS", f" {FRONT_END}, http://10.0.0.5:8080 ")
    assert Settings(_env_file=None).cors_origins == (FRONT_END, "http://10.0.0.5:8080")
    for bad in ("map.example.cn", "https://map.example.cn/path", "javascript:alert(1)"):
        monkeypatch.setenv("ONEMAP_CORS_ORIGINS", bad)
        with pytest.raises(ValidationError, match="cors_origins"):
            Settings(_env_file=None)
