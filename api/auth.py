"""Sign-in and the signed-in user: OAuth2 password flow, short-lived signed tokens (JWT, HS256).

A token names the account; every request re-reads the account, so a deactivated user loses access at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import jwt
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from ledger.roles import User
from store.users import UserStore

ALGORITHM = "HS256"
COOKIE = "onemap_token"
router = APIRouter(prefix="/auth", tags=["sign-in 登录"])
_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def public() -> None:
    """Declares a route open to everyone (api/access.py reads it); enforces nothing."""


#: `dependencies=[PUBLIC]` on a route that anyone may call.
PUBLIC = Depends(public)


class Unauthorized(Exception):
    """No valid sign-in: missing, malformed or expired token, or a wrong password."""


def users(request: Request) -> UserStore:
    """The account store opened at start-up."""
    return request.app.state.users


def issue_token(store: UserStore, user: User, minutes: int) -> str:
    """A signed token for `user`, valid for `minutes`."""
    now = datetime.now(UTC)
    claims = {"sub": user.username, "role": user.role.value, "iat": now, "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, store.signing_key(), algorithm=ALGORITHM)


def current_user(request: Request, token: Annotated[str | None, Depends(_bearer)]) -> User:
    """The user the request's bearer token (or the map's sign-in cookie) names; Unauthorized otherwise."""
    token = token or request.cookies.get(COOKIE)
    if not token:
        raise Unauthorized("需要登录：先用 POST /auth/token 换取令牌 (sign in first: POST /auth/token)")
    store = users(request)
    try:
        claims = jwt.decode(token, store.signing_key(), algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("登录已过期，请重新登录 (the token has expired: sign in again)") from None
    except jwt.InvalidTokenError:
        raise Unauthorized("令牌无效，请重新登录 (invalid token: sign in again)") from None
    user = store.get(str(claims["sub"]))
    if user is None:
        raise Unauthorized("账号不存在或已停用 (the account no longer exists or is inactive)")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def viewer(request: Request, token: Annotated[str | None, Depends(_bearer)]) -> User | None:
    """The signed-in user if there is one, else None: for pages that anyone may open but that show the ledger
    only to those allowed to see it. Anonymous requests, most of a public map's, are answered on the event loop;
    a token is checked against the accounts in a worker thread, as any dependency that reads the store is."""
    if not (token or request.cookies.get(COOKIE)):
        return None
    try:
        return await run_in_threadpool(current_user, request, token)
    except Unauthorized:
        return None


Viewer = Annotated[User | None, Depends(viewer)]


@router.post("/token", summary="Sign in: username and password for an access token", dependencies=[PUBLIC])
def sign_in(
    request: Request,
    response: Response,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: Annotated[Literal["cookie"] | None, Query(description="cookie: also sign the map pages in")] = None,
) -> dict[str, Any]:
    """OAuth2 password flow; the token goes in `Authorization: Bearer …` on later requests. With `session=cookie`
    (the map's sign-in) it is also set as an HttpOnly, same-site cookie, which no script can read and no other site
    can send; over HTTPS it is marked Secure too, so it never travels unencrypted."""
    request.app.state.login_limit.hit(request.client.host if request.client else "unknown")
    store = users(request)
    user = store.authenticate(form.username, form.password)
    if user is None:
        raise Unauthorized("用户名或密码错误 (wrong username or password)")
    minutes = request.app.state.settings.token_minutes
    token = issue_token(store, user, minutes)
    if session == "cookie":
        secure = request.url.scheme == "https"
        response.set_cookie(
            COOKIE, token, max_age=minutes * 60, httponly=True, samesite="strict", path="/", secure=secure
        )
    return {"access_token": token, "token_type": "bearer", "expires_in": minutes * 60}


@router.post("/signout", summary="Sign out of the map pages", dependencies=[PUBLIC])
def sign_out(request: Request, response: Response) -> dict[str, str]:
    """Clears the sign-in cookie (a bearer token simply expires)."""
    secure = request.url.scheme == "https"
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=secure)
    return {"status": "signed out"}


@router.get("/me", summary="Who is signed in")
def me(user: CurrentUser) -> dict[str, Any]:
    """The signed-in account: name, role and remit."""
    return {
        "username": user.username,
        "role": user.role.value,
        "role_label": user.role.label,
        "village_code": user.village_code,
        "unit": user.unit,
        "display_name": user.display_name,
    }
