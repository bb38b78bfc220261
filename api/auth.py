"""Who is calling: bearer tokens checked against the token table, and role requirements."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.problems import Problem
from api.services import Services
from api.tokens import Principal, verify_token

bearer = HTTPBearer(auto_error=False, description="An editor token (`diaspor token create`).")


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(services)]


def require(*roles: str) -> Callable[..., object]:
    async def check(
        svc: ServicesDep,
        cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        challenge = {"WWW-Authenticate": "Bearer"}
        if cred is None:
            raise Problem(401, "Authentication required", "send Authorization: Bearer <token>",
                          "unauthenticated", challenge)  # fmt: skip
        admin = svc.settings.admin_token
        who = await run_in_threadpool(
            verify_token, svc.db, cred.credentials, admin.get_secret_value() if admin else None
        )
        if who is None:
            raise Problem(401, "Authentication required", "the token is unknown or revoked",
                          "bad-token", challenge)  # fmt: skip
        if who.role not in roles:
            raise Problem(403, "Forbidden", f"this needs the role {' or '.join(roles)}; "
                          f"the token has {who.role}", "forbidden")  # fmt: skip
        return who

    return check


Reader = Annotated[Principal, Depends(require("admin", "editor", "presenter"))]
Editor = Annotated[Principal, Depends(require("admin", "editor"))]
