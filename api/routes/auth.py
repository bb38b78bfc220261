"""Signing in and out, the caller's identity, API keys and users (admins only).

Secrets leave here only once: an access/refresh pair in the answer to a sign-in or refresh,
and a new API key in the answer that creates it. Nothing here logs a password or a token.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, ConfigDict, Field

from accounts.throttle import Throttled
from accounts.tokens import ApiKey, Session, Sessions, create_key, list_keys, revoke_key
from accounts.users import User
from api.auth import Allowed, ServicesDep, Throttle, permissions, signing_key
from api.paging import Paged, Pages, paged
from api.problems import Problem, problems
from api.services import Services
from station.logs import address_tag

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
log = logging.getLogger(__name__)
Role = Literal["admin", "editor", "presenter"]


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    refresh_token: str

    @classmethod
    def of(cls, s: Session) -> TokenOut:
        return cls(
            access_token=s.access_token, expires_in=s.expires_in, refresh_token=s.refresh_token
        )


class MeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "gunay",
                    "role": "editor",
                    "kind": "user",
                    "permissions": [
                        "GET /api/v1/auth/me",
                        "GET /api/v1/manage/entries",
                        "POST /api/v1/manage/entries",
                        "POST /api/v1/media",
                    ],
                }
            ]
        }
    )

    name: str
    role: str
    kind: str = Field(description="`user` (signed in) or `key` (an API key)")
    permissions: list[str] = Field(
        description='every "METHOD /path/template" of the permission matrix this role passes: '
        "what a client may offer this caller (the server still checks each request)"
    )


class UserOut(BaseModel):
    username: str
    display_name: str
    role: str
    disabled: bool

    @classmethod
    def of(cls, u: User) -> UserOut:
        return cls(
            username=u.username, display_name=u.display_name, role=u.role, disabled=u.disabled
        )


class UserIn(BaseModel):
    username: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=200)
    role: Role
    password: str = Field(min_length=1, max_length=1024)


class UserPatch(BaseModel):
    display_name: str | None = Field(default=None, max_length=200)
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=1024)


class KeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: Role


class KeyOut(BaseModel):
    id: int
    name: str
    role: str
    revoked: bool
    created_at: datetime

    @classmethod
    def of(cls, k: ApiKey) -> KeyOut:
        return cls(id=k.id, name=k.name, role=k.role, revoked=k.revoked, created_at=k.created_at)


class NewKeyOut(KeyOut):
    key: str = Field(description="The secret: shown this once, stored only as a hash.")


def sessions(svc: Services, request: Request) -> Sessions:
    s = svc.settings
    return Sessions(
        svc.db,
        svc.clock,
        signing_key(request),
        s.access_token_ttl_s,
        s.refresh_token_ttl_days * 86400,
    )


def client_ip(request: Request) -> str:
    """The client's address: taken from X-Forwarded-For only if the request came from a
    trusted proxy (DIASPOR_TRUSTED_PROXIES, `api/proxies.py`)."""
    return request.client.host if request.client else "unknown"


NO_STORE = {"Cache-Control": "no-store"}
# Far above any real username (63 characters) or password, far below the 1 MB a body may be:
# longer ones are refused before the throttle or argon2 spend anything on them.
MAX_USERNAME = 150
MAX_PASSWORD = 1024


class SignInForm(OAuth2PasswordRequestForm):
    """OAuth2's password form with its username and password bounded in length."""

    def __init__(
        self,
        *,
        grant_type: Annotated[str | None, Form(pattern="^password$")] = None,
        username: Annotated[str, Form(max_length=MAX_USERNAME)],
        password: Annotated[
            str, Form(max_length=MAX_PASSWORD, json_schema_extra={"format": "password"})
        ],
        scope: Annotated[str, Form()] = "",
        client_id: Annotated[str | None, Form()] = None,
        client_secret: Annotated[
            str | None, Form(max_length=MAX_PASSWORD, json_schema_extra={"format": "password"})
        ] = None,
    ) -> None:
        super().__init__(
            grant_type=grant_type,
            username=username,
            password=password,
            scope=scope,
            client_id=client_id,
            client_secret=client_secret,
        )


SIGN_IN_ERRORS = problems(
    401,
    422,
    429,
    503,
    why={
        401: "wrong username or password (the same answer for either)",
        422: f"a username over {MAX_USERNAME} or a password over {MAX_PASSWORD} characters, "
        "or a malformed form (problem+json says which); nothing is checked",
        429: "too many failed sign-ins from this address, or for this username; see Retry-After",
    },
)


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in (OAuth2 password flow)",
    responses=SIGN_IN_ERRORS,
)
async def sign_in(
    request: Request,
    response: Response,
    form: Annotated[SignInForm, Depends()],
    svc: ServicesDep,
    throttle: Throttle,
) -> TokenOut:
    ip = client_ip(request)
    try:
        attempt = throttle.reserve(form.username, ip)
    except Throttled as e:
        log.warning("sign-in throttled", extra={"username": form.username, "ip": address_tag(ip)})
        raise Problem(
            429,
            "Too many requests",
            e.message,
            e.reason,
            {"Retry-After": str(e.retry_after_s)},
        ) from None
    try:
        user = await run_in_threadpool(svc.users.authenticate, form.username, form.password)
    except BaseException:
        throttle.release(attempt)  # not the client's failure: the check did not happen
        raise
    if user is None:  # the attempt stays counted: a failure
        log.info("sign-in refused", extra={"username": form.username, "ip": address_tag(ip)})
        raise Problem(
            401,
            "Authentication required",
            "wrong username or password",
            "bad-credentials",
            {"WWW-Authenticate": "Bearer"},
        )
    throttle.succeeded(attempt)
    log.info("signed in", extra={"username": user.username, "role": user.role})
    response.headers.update(NO_STORE)
    pair = await run_in_threadpool(sessions(svc, request).start, user.id, user.username, user.role)
    return TokenOut.of(pair)


@router.post(
    "/refresh",
    response_model=TokenOut,
    summary="Trade a refresh token for a new pair",
    responses=problems(
        401,
        503,
        why={
            401: "the refresh token is unknown, expired, spent or revoked; a spent one "
            "presented again ends every session of its sign-in"
        },
    ),
)
async def refresh_token(
    request: Request,
    response: Response,
    svc: ServicesDep,
    refresh_token: Annotated[str, Form(max_length=200)],
) -> TokenOut:
    pair = await run_in_threadpool(sessions(svc, request).rotate, refresh_token)
    if pair is None:
        raise Problem(
            401,
            "Authentication required",
            "the refresh token is unknown, expired, spent or revoked; sign in again",
            "bad-refresh-token",
            {"WWW-Authenticate": "Bearer"},
        )
    response.headers.update(NO_STORE)
    return TokenOut.of(pair)


@router.post(
    "/logout",
    status_code=204,
    summary="Revoke a refresh token (and its rotations)",
    responses=problems(503),
)
async def sign_out(
    request: Request, svc: ServicesDep, refresh_token: Annotated[str, Form(max_length=200)]
) -> Response:
    await run_in_threadpool(sessions(svc, request).end, refresh_token)
    return Response(status_code=204)


@router.get(
    "/me", response_model=MeOut, summary="Who the credential belongs to, and what it may do"
)
def get_me(who: Allowed) -> MeOut:
    return MeOut(name=who.name, role=who.role, kind=who.kind, permissions=permissions(who.role))


# --- API keys -----------------------------------------------------------------------------


class KeyPage(Paged[KeyOut]):
    pass


class UserPage(Paged[UserOut]):
    pass


@router.get("/keys", response_model=KeyPage, summary="API keys by id (never their secrets)")
def list_api_keys(
    svc: ServicesDep, who: Allowed, pages: Annotated[Pages, paged("keys", 100)]
) -> KeyPage:
    page = pages.whole(list_keys(svc.db), lambda k: (k.id,))
    return pages.answer(KeyPage, page, KeyOut.of)


@router.post("/keys", response_model=NewKeyOut, status_code=201, summary="Create an API key")
def create_api_key(body: KeyIn, response: Response, svc: ServicesDep, who: Allowed) -> NewKeyOut:
    k, secret = create_key(svc.db, svc.clock, body.name, body.role)
    log.info("api key created", extra={"key_id": k.id, "role": k.role, "by": who.name})
    response.headers.update(NO_STORE)
    response.headers["Location"] = f"/api/v1/auth/keys/{k.id}"
    return NewKeyOut(**KeyOut.of(k).model_dump(), key=secret)


@router.delete(
    "/keys/{key_id}", status_code=204, summary="Revoke an API key", responses=problems(404)
)
def revoke_api_key(key_id: int, svc: ServicesDep, who: Allowed) -> Response:
    if not revoke_key(svc.db, key_id):
        raise Problem(404, "Not found", f"there is no API key {key_id}", "not-found")
    log.info("api key revoked", extra={"key_id": key_id, "by": who.name})
    return Response(status_code=204)


# --- users --------------------------------------------------------------------------------


@router.get("/users", response_model=UserPage, summary="Everyone who can sign in, by username")
def list_users(
    svc: ServicesDep, who: Allowed, pages: Annotated[Pages, paged("users", 100)]
) -> UserPage:
    page = pages.whole(svc.users.all(), lambda u: (u.username,), (str,))
    return pages.answer(UserPage, page, UserOut.of)


@router.post("/users", response_model=UserOut, status_code=201, summary="Create a user")
def create_user(body: UserIn, response: Response, svc: ServicesDep, who: Allowed) -> UserOut:
    user = svc.users.create(body.username, body.display_name, body.role, body.password)
    log.info("user created", extra={"username": user.username, "role": user.role, "by": who.name})
    response.headers["Location"] = f"/api/v1/auth/users/{user.username}"
    return UserOut.of(user)


@router.patch(
    "/users/{username}",
    response_model=UserOut,
    summary="Change a user's role, name or password, or disable them",
    responses=problems(404),
)
def update_user(
    username: str, body: UserPatch, request: Request, svc: ServicesDep, who: Allowed
) -> UserOut:
    user = svc.users.update(
        username,
        role=body.role,
        disabled=body.disabled,
        password=body.password,
        display_name=body.display_name,
    )
    if body.disabled or body.password is not None:
        sessions(svc, request).end_all(user.id)  # signed out everywhere
    changed = sorted(k for k, v in body.model_dump(exclude_unset=True).items())
    log.info("user changed", extra={"username": username, "fields": changed, "by": who.name})
    return UserOut.of(user)
