"""Who is calling and what they may do: the permission matrix, the one dependency that
enforces it, and the app's one sign-in throttle (`accounts/throttle.py`).

A caller presents `Authorization: Bearer <credential>`: an access JWT from
`POST /api/v1/auth/token`, an API key (`dsp_...`), or DIASPOR_ADMIN_TOKEN. Every protected
route declares `who: Allowed`; which roles pass is looked up in MATRIX by the route's method
and path, so the whole policy is read (and tested, route by route) in one table. A route that
asks for `Allowed` but is missing from MATRIX is refused to everyone: fail closed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordBearer

from accounts.throttle import LoginThrottle
from accounts.tokens import Principal, jwt_secret, looks_like_jwt, verify_access, verify_token
from api.problems import Problem
from api.services import Services

TOKEN_URL = "/api/v1/auth/token"
# Two ways to send the same header, so /docs offers both: sign in (password flow) or paste a key.
oauth2 = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL, auto_error=False, description="Sign in with a username and password."
)
bearer = HTTPBearer(auto_error=False, description="An API key (`diaspor token create`).")

ADMIN = ("admin",)
EDITORS = ("admin", "editor")
STAFF = ("admin", "editor", "presenter")


def _manage(kind_paths: tuple[str, ...]) -> dict[tuple[str, str], tuple[str, ...]]:
    rules: dict[tuple[str, str], tuple[str, ...]] = {}
    for p in kind_paths:
        base, one = f"/api/v1/manage/{p}", f"/api/v1/manage/{p}/{{rid}}"
        rules[("GET", base)] = rules[("GET", one)] = STAFF
        rules[("POST", base)] = rules[("PATCH", one)] = rules[("DELETE", one)] = EDITORS
    return rules


# (method, route path) → roles allowed. Presenters read the schedule and the library; they do
# not change them (their own live slot is the live desk's business, by their stream key);
# editors change both; only admins see the audit log and manage users and API keys.
MATRIX: dict[tuple[str, str], tuple[str, ...]] = {
    **_manage(("channels", "programmes", "episodes", "playlists", "clocks", "entries")),
    ("PUT", "/api/v1/manage/channels/{rid}/logo"): EDITORS,
    ("GET", "/api/v1/manage/audit"): ADMIN,
    ("GET", "/api/v1/manage/asrun"): STAFF,
    ("POST", "/api/v1/manage/channels/{slug}/skip"): EDITORS,
    ("POST", "/api/v1/manage/channels/{slug}/play-now"): EDITORS,
    ("GET", "/api/v1/reports/audience"): EDITORS,
    ("GET", "/api/v1/reports/audience/charts/{chart}.svg"): EDITORS,
    ("GET", "/api/v1/reports/audience/monthly"): EDITORS,
    ("GET", "/api/v1/media"): STAFF,
    ("GET", "/api/v1/media/{media_id}"): STAFF,
    ("GET", "/api/v1/media/{media_id}/peaks"): STAFF,
    ("POST", "/api/v1/media"): EDITORS,
    ("PATCH", "/api/v1/media/{media_id}"): EDITORS,
    ("DELETE", "/api/v1/media/{media_id}"): EDITORS,
    ("PUT", "/api/v1/media/{media_id}/subtitles/{lang}"): EDITORS,
    ("PUT", "/api/v1/media/{media_id}/artwork"): EDITORS,
    ("OPTIONS", "/api/v1/uploads"): EDITORS,
    ("POST", "/api/v1/uploads"): EDITORS,
    ("HEAD", "/api/v1/uploads/{upload_id}"): EDITORS,
    ("PATCH", "/api/v1/uploads/{upload_id}"): EDITORS,
    ("DELETE", "/api/v1/uploads/{upload_id}"): EDITORS,
    ("GET", "/api/v1/uploads/{upload_id}"): EDITORS,
    ("GET", "/api/v1/jobs/{job_id}"): STAFF,
    ("GET", "/api/v1/auth/me"): STAFF,
    ("GET", "/api/v1/auth/me/slots"): STAFF,
    ("GET", "/api/v1/auth/me/stream-key"): STAFF,
    ("POST", "/api/v1/auth/me/stream-key"): STAFF,
    ("DELETE", "/api/v1/auth/me/stream-key"): STAFF,
    ("DELETE", "/api/v1/auth/users/{username}/stream-key"): ADMIN,
    ("GET", "/api/v1/auth/keys"): ADMIN,
    ("POST", "/api/v1/auth/keys"): ADMIN,
    ("DELETE", "/api/v1/auth/keys/{key_id}"): ADMIN,
    ("GET", "/api/v1/auth/users"): ADMIN,
    ("POST", "/api/v1/auth/users"): ADMIN,
    ("PATCH", "/api/v1/auth/users/{username}"): ADMIN,
}


async def services(request: Request) -> Services:
    """(Dependencies that do no I/O are `async def`: a plain `def` costs every request a
    trip through the thread pool.)"""
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(services)]
CHALLENGE = {"WWW-Authenticate": "Bearer"}


def signing_key(request: Request) -> str:
    """The JWT secret, resolved once per app (it may be read from, or written to, data_dir)."""
    key: str | None = getattr(request.app.state, "jwt_secret", None)
    if key is None:
        key = jwt_secret(request.app.state.services.settings)
        request.app.state.jwt_secret = key
    return key


def _identify(svc: Services, secret: str, credential: str) -> Principal | None:
    if looks_like_jwt(credential):
        return verify_access(svc.db, secret, svc.clock, credential)
    admin = svc.settings.admin_token
    return verify_token(svc.db, credential, admin.get_secret_value() if admin else None)


async def authenticate(
    request: Request,
    svc: ServicesDep,
    token: Annotated[str | None, Depends(oauth2)],
    cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    credential = token or (cred.credentials if cred else None)
    if not credential:
        raise Problem(
            401,
            "Authentication required",
            "send Authorization: Bearer <token>",
            "unauthenticated",
            CHALLENGE,
        )
    who = await run_in_threadpool(_identify, svc, signing_key(request), credential)
    if who is None:
        raise Problem(
            401,
            "Authentication required",
            "the token is unknown, expired or revoked",
            "bad-token",
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return who


async def maybe_authenticate(
    request: Request,
    svc: ServicesDep,
    cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal | None:
    """Who is asking, on a public route that tells staff more: None for a stranger (an
    unknown or missing credential is not an error here)."""
    if cred is None:
        return None
    return await run_in_threadpool(_identify, svc, signing_key(request), cred.credentials)


MaybeCaller = Annotated[Principal | None, Depends(maybe_authenticate)]


def roles_for(method: str, path: str) -> tuple[str, ...]:
    return MATRIX.get((method.upper(), path), ())


def permissions(role: str) -> list[str]:
    """Every "METHOD /path/template" of MATRIX this role passes, sorted by path then method:
    what a client (the editors' console) may offer, read from the one table `authorise`
    enforces."""
    return [f"{m} {p}" for (m, p), roles in sorted(MATRIX.items(), key=by_path) if role in roles]


def by_path(rule: tuple[tuple[str, str], tuple[str, ...]]) -> tuple[str, str]:
    (method, path), _ = rule
    return (path, method)


async def authorise(
    request: Request, who: Annotated[Principal, Depends(authenticate)]
) -> Principal:
    route = request.scope.get("route")
    roles = roles_for(request.method, getattr(route, "path", ""))
    if who.role not in roles:
        needed = " or ".join(roles) if roles else "a rule in the permission matrix"
        raise Problem(403, "Forbidden", f"this needs {needed}; you are {who.role}", "forbidden")
    return who


Allowed = Annotated[Principal, Depends(authorise)]
Caller = Annotated[Principal, Depends(authenticate)]
# What these dependencies answer before a route runs; the OpenAPI description adds it to every
# route that depends on them (api/openapi.py). 503: the JWT signing key is unusable.
GUARD_ANSWERS: dict[Callable[..., object], tuple[int, ...]] = {
    authenticate: (401, 503),
    maybe_authenticate: (503,),
    authorise: (403,),
}


def require(*roles: str) -> Callable[..., object]:
    """A fixed role check, for routes outside the matrix (prefer MATRIX and `Allowed`)."""

    async def check(who: Caller) -> Principal:
        if who.role not in roles:
            raise Problem(
                403,
                "Forbidden",
                f"this needs the role {' or '.join(roles)}; you are {who.role}",
                "forbidden",
            )
        return who

    GUARD_ANSWERS[check] = (403,)
    return check


Reader = Annotated[Principal, Depends(require(*STAFF))]
Editor = Annotated[Principal, Depends(require(*EDITORS))]


async def login_throttle(request: Request) -> LoginThrottle:
    throttle: LoginThrottle | None = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        svc: Services = request.app.state.services
        throttle = LoginThrottle.from_settings(svc.settings, svc.clock)
        request.app.state.login_throttle = throttle
    return throttle


Throttle = Annotated[LoginThrottle, Depends(login_throttle)]
