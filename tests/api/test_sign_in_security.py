"""The map's sign-in cookie (HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS) and sign-out, and tokens that were
tampered with, forged or have run out: refused whether they come as a bearer header or as the cookie."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie

import jwt
import pytest
from backends import BACKENDS, settings_for, town_copy, with_account
from fastapi.testclient import TestClient

from api.auth import COOKIE
from api.main import create_app
from onemap.settings import DEMO_GPKG
from store.users import UserStore

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module", params=BACKENDS)
def location(request, tmp_path_factory) -> str:
    return with_account(
        town_copy(request.param, DEMO_GPKG, tmp_path_factory.mktemp("sign-in")), "admin", PASSWORD, "admin"
    )


@pytest.fixture(scope="module")
def key(location) -> str:
    users = UserStore(location)
    try:
        return users.signing_key()
    finally:
        users.close()


def _set_cookie(response) -> dict[str, str | bool]:
    """The attributes of the response's sign-in cookie, names lower-cased."""
    (header,) = [v for k, v in response.headers.multi_items() if k == "set-cookie" and v.startswith(f"{COOKIE}=")]
    morsel = SimpleCookie(header)[COOKIE]
    return {"value": morsel.value, **{k.lower(): v for k, v in morsel.items() if v}}


def _sign_in(client: TestClient):
    return client.post("/auth/token", params={"session": "cookie"}, data={"username": "admin", "password": PASSWORD})


def test_the_cookie_is_http_only_same_site_strict_for_the_whole_site(location):
    with TestClient(create_app(settings_for(location, token_minutes=30))) as client:
        cookie = _set_cookie(_sign_in(client))
        assert cookie["httponly"] is True and cookie["samesite"].lower() == "strict" and cookie["path"] == "/"
        assert cookie["max-age"] == str(30 * 60) and "secure" not in cookie  # plain http: a local test install
        assert client.get("/auth/me").json()["username"] == "admin"


def test_over_https_the_cookie_is_secure_and_is_cleared_as_secure(location):
    with TestClient(create_app(settings_for(location)), base_url="https://onemap.example.cn") as client:
        cookie = _set_cookie(_sign_in(client))
        assert cookie["secure"] is True and cookie["httponly"] is True
        assert client.get("/auth/me").status_code == 200
        cleared = _set_cookie(client.post("/auth/signout"))
        assert cleared["secure"] is True


def test_sign_out_clears_the_cookie_and_the_pages_forget_the_user(location):
    with TestClient(create_app(settings_for(location))) as client:
        _sign_in(client)
        assert '"user": {' in client.get("/map").text
        cleared = _set_cookie(client.post("/auth/signout"))
        assert cleared["value"] == "" and cleared["max-age"] == "0" and cleared["path"] == "/"
        assert cleared["httponly"] is True and cleared["samesite"].lower() == "strict"
        assert COOKIE not in client.cookies
        assert client.get("/auth/me").status_code == 401
        assert '"user": null' in client.get("/map").text


def _b64(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def _tokens(key: str) -> dict[str, str]:
    """Tokens no one may sign in with: each differs from a good one in one way."""
    now = datetime.now(UTC)
    claims = {"sub": "admin", "role": "admin", "iat": now, "exp": now + timedelta(minutes=10)}
    good = jwt.encode(claims, key, algorithm="HS256")
    head, body, signature = good.split(".")
    lifted = {"sub": "admin", "role": "admin", "exp": int((now + timedelta(minutes=10)).timestamp())}
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(lifted)}.",
        "alg none, signature kept": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(lifted)}.{signature}",
        "another key": jwt.encode(claims, "not the service's key" * 2, algorithm="HS256"),
        "signature changed": f"{head}.{body}.{flipped}",
        "claims changed": f"{head}.{_b64({**lifted, 'sub': 'someone'})}.{signature}",
        "HS512 with the right key": jwt.encode(claims, key, algorithm="HS512"),
        "expired": jwt.encode({**claims, "exp": now - timedelta(seconds=5)}, key, algorithm="HS256"),
        "no expiry": jwt.encode({"sub": "admin", "role": "admin"}, key, algorithm="HS256"),
        "unknown account": jwt.encode({**claims, "sub": "nobody"}, key, algorithm="HS256"),
        "not a token": "admin",
        "empty parts": "..",
    }


@pytest.mark.parametrize("how", ["bearer", "cookie"])
def test_a_tampered_forged_or_expired_token_is_refused(location, key, how):
    with TestClient(create_app(settings_for(location))) as client:
        for name, token in _tokens(key).items():
            client.cookies.clear()
            if how == "bearer":
                kwargs = {"headers": {"Authorization": f"Bearer {token}"}}
            else:
                client.cookies.set(COOKIE, token)
                kwargs = {}
            for path in ("/auth/me", "/ledger/hazards", "/collections/hazards/items"):
                response = client.get(path, **kwargs)
                assert response.status_code == 401, (name, path, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
            # The pages open, as for anyone not signed in: no user, the ledger locked.
            page = client.get("/map/village/150525107201", **kwargs)
            assert page.status_code == 200 and '"user": null' in page.text, name
            assert "登录后查看本村隐患" in page.text


def test_a_good_token_works_both_ways(location, key):
    now = datetime.now(UTC)
    token = jwt.encode({"sub": "admin", "iat": now, "exp": now + timedelta(minutes=5)}, key, algorithm="HS256")
    with TestClient(create_app(settings_for(location))) as client:
        assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        client.cookies.set(COOKIE, token)
        assert client.get("/auth/me").status_code == 200
