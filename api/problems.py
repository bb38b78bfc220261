"""Errors as application/problem+json (RFC 9457), translated once, here, from every package."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from accounts.tokens import JwtSecretError
from media import errors as me
from schedules.errors import Frozen, InUse, ScheduleConflict
from station.errors import NotFound, StaleVersion, StationError

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"

STATUS: dict[type[StationError], int] = {
    NotFound: 404,
    StaleVersion: 412,
    ScheduleConflict: 409,
    Frozen: 409,
    InUse: 409,
    me.FileTooLarge: 413,
    me.ToolMissing: 503,
    me.StorageError: 503,
    JwtSecretError: 503,  # the station's own configuration, not the caller's request
}


TITLES = {
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed",
    413: "File too large",
    422: "Invalid request",
}


def exc_extra(exc: StationError) -> dict[str, Any]:
    """Structured detail an error carries (e.g. the entries in a conflict)."""
    extra = getattr(exc, "extra", None)
    return dict(extra) if isinstance(extra, dict) else {}


class Problem(Exception):
    """Raised by routes for HTTP-only failures (auth, preconditions)."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        reason: str = "",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.reason = reason or title.lower().replace(" ", "-")
        self.headers = headers
        self.extra = extra


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    reason: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"/problems/{reason}",
        "title": title,
        "status": status,
        "detail": detail,
        "reason": reason,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request, exc.status, exc.title, exc.detail, exc.reason, exc.headers, **exc.extra
        )

    @app.exception_handler(StationError)
    async def _station(request: Request, exc: StationError) -> JSONResponse:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 422)
        detail = exc.message
        if status >= 500:
            # The operator reads the reason in the log; a caller is not told the station's
            # paths, hosts or settings.
            log.error("request failed", extra={"path": request.url.path, "error": exc.message})
            detail = "the station cannot answer this now; its operator has been told why"
        title = TITLES.get(status, "Service unavailable")
        if status == 422 and isinstance(exc, me.MediaError):
            title = "Unusable media"
        return problem_response(request, status, title, detail, exc.reason, **exc_extra(exc))

    # A number too large for the database's 64-bit integers (an id of 2**63, from a client
    # or a fuzzer) fails in the driver, before anything is written: it is the caller's error.
    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _out_of_range(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            request,
            422,
            "Invalid request",
            "a number in the request is out of range (ids and counts are 64-bit integers)",
            "out-of-range",
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['where']}: {e['problem']}" for e in errors)
        return problem_response(
            request, 422, "Invalid request", detail, "invalid-request", errors=errors
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        reason = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(
            request, exc.status_code, detail, detail, reason, getattr(exc, "headers", None)
        )
