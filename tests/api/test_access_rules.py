"""Authorisation on every route: the route table is walked, and a route without a declared access rule fails;
then each rule is tried for real, anonymous and with a village account."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from backends import BACKENDS, settings_for, town_copy, with_account
from fastapi.testclient import TestClient

from api.access import Access, routes, rule_of
from api.main import create_app
from maps import assets
from onemap.settings import DEMO_GPKG

PASSWORD = "correct horse battery"
#: Served by the framework or as files, not by our routes: the API document and its page, the vendored scripts.
FRAMEWORK_PUBLIC = {"/api", "/api.html", "/docs/oauth2-redirect"} | {
    f"{assets.STATIC_URL}/{prefix}" for prefix in assets.MOUNTS
}
#: A value for each path parameter that names something real in the demo town.
PATH_VALUES = {
    "collection_id": "hazards",
    "feature_id": "1",
    "fid": "1",
    "photo_id": "1",
    "report_id": "1",
    "code": "JB-00000000",
    "village_id": "150525107201",
    "z": "12",
    "x": "3360",
    "y": "1530",
}


@pytest.fixture(scope="module", params=BACKENDS)
def service(request, tmp_path_factory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    location = town_copy(request.param, DEMO_GPKG, tmp_path_factory.mktemp("access"))
    with_account(location, "village", PASSWORD, "village", village_code="150525107201")
    with TestClient(create_app(settings_for(location))) as client:
        token = client.post("/auth/token", data={"username": "village", "password": PASSWORD}).json()["access_token"]
        yield client, {"Authorization": f"Bearer {token}"}


def _table() -> list[tuple[str, frozenset[str], Access | None]]:
    app = create_app(settings_for(str(DEMO_GPKG)))
    return [(r.path, frozenset(getattr(r, "methods", None) or ()), rule_of(r)) for r in routes(app.routes)]


TABLE = _table()
GUARDED = [(path, method, rule) for path, methods, rule in TABLE for method in sorted(methods) if rule is not None]


def test_every_route_declares_who_may_call_it() -> None:
    undeclared = [path for path, _, rule in TABLE if rule is None and path not in FRAMEWORK_PUBLIC]
    assert not undeclared, (
        f"routes without an access rule (add dependencies=[PUBLIC] or a user dependency): {undeclared}"
    )
    assert len(TABLE) > 60  # the walk reaches into the included routers


def test_the_walk_notices_a_route_without_a_rule() -> None:
    app = create_app(settings_for(str(DEMO_GPKG)))

    @app.get("/forgotten")
    def forgotten() -> dict:
        return {}

    assert [r.path for r in routes(app.routes) if rule_of(r) is None and r.path not in FRAMEWORK_PUBLIC] == [
        "/forgotten"
    ]


def test_the_api_document_carries_every_rule() -> None:
    spec = create_app(settings_for(str(DEMO_GPKG))).openapi()
    rules = {(p, m.upper()): op.get("x-access") for p, item in spec["paths"].items() for m, op in item.items()}
    for path, method, rule in GUARDED:
        if (path, method) in rules:
            assert rules[path, method] == rule.value, (path, method)
    assert None not in rules.values()


def _url(path: str, **values: str) -> str:
    values = {**PATH_VALUES, **values}
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


@pytest.mark.parametrize(
    ("path", "method"), [(p, m) for p, m, r in GUARDED if r in (Access.SIGNED_IN, Access.TOWN_OFFICE)]
)
def test_a_guarded_route_refuses_anyone_not_signed_in(service, path: str, method: str) -> None:
    client, _ = service
    response = client.request(method, _url(path))
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "sign in" in response.json()["description"]


@pytest.mark.parametrize("path", [p for p, m, r in GUARDED if r == Access.TOWN_OFFICE])
def test_a_town_office_route_refuses_a_village_account(service, path: str) -> None:
    client, village = service
    response = client.post(_url(path), headers=village)
    assert response.status_code == 403, response.text
    assert "town office" in response.json()["description"]


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, r in GUARDED if r in (Access.PUBLIC, Access.VIEWER)])
def test_an_open_route_answers_without_an_account(service, path: str, method: str) -> None:
    client, _ = service
    response = client.request(method, _url(path, collection_id="villages"))  # the ledger itself is private
    assert response.status_code not in (401, 403), response.text
