"""Who may call each route. The rule is read from the route's own dependencies, the same ones that enforce it, so
a route cannot claim one rule and apply another; a route open to everyone says so with PUBLIC. The route-table test
(tests/api/test_access_rules.py) fails for any route without a rule."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import Depends
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute

from api import auth
from ledger.roles import Forbidden, Role, User


class Access(StrEnum):
    """An access rule, from the most open to the narrowest."""

    PUBLIC = "public"  # anyone, no account: published layers, maps, the report form, sign-in
    VIEWER = "public, ledger within remit"  # anyone; hazards only to a signed-in user, within their remit
    SIGNED_IN = "signed in"  # any account; what it may read or change is checked against its role and remit
    TOWN_OFFICE = "town office"  # the town safety office (admin) only: runs that replace shared layers


PUBLIC = auth.PUBLIC


async def town_office(user: auth.CurrentUser) -> User:
    """Only the town office runs analyses: a run replaces layers everyone sees (checked before any parameter)."""
    if user.role != Role.ADMIN:
        raise Forbidden("只有镇安办可以运行分析 (only the town office runs analyses)")
    return user


TownOffice = Annotated[User, Depends(town_office)]

_RULES = {town_office: Access.TOWN_OFFICE, auth.current_user: Access.SIGNED_IN, auth.viewer: Access.VIEWER}


def routes(app_routes: list[BaseRoute]):
    """Every route as served (path, methods, dependant), through included routers; mounts and plain Starlette routes
    come as they are."""
    yield from iter_route_contexts(app_routes)


def rule_of(route) -> Access | None:
    """The narrowest rule among the route's dependencies, or None when it declares none (or is not a FastAPI route)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return None
    found = set(_walk(dependant))
    for rule in (Access.TOWN_OFFICE, Access.SIGNED_IN, Access.VIEWER):
        if rule in found:
            return rule
    return Access.PUBLIC if Access.PUBLIC in found else None


def _walk(dependant: Dependant):
    for dep in dependant.dependencies:
        if dep.call is auth.public:
            yield Access.PUBLIC
        elif dep.call in _RULES:
            yield _RULES[dep.call]
        yield from _walk(dep)
