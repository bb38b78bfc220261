"""Errors as application/problem+json (RFC 9457), translated once, here, from every package,
and described once, here, for the OpenAPI document (`problems`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from accounts.tokens import JwtSecretError
from media import errors as me
from schedules.errors import (
    Frozen,
    InUse,
    MediaNotReady,
    NothingOnAir,
    NotOnTv,
    ScheduleConflict,
)
from station.errors import NotFound, StaleVersion, StationError

log = logging.getLogger(__name__)
PROBLEM = "application/problem+json"

STATUS: dict[type[StationError], int] = {
    NotFound: 404,
    StaleVersion: 412,
    ScheduleConflict: 409,
    Frozen: 409,
    InUse: 409,
    NothingOnAir: 409,
    NotOnTv: 409,
    MediaNotReady: 409,
    me.FileTooLarge: 413,
    me.UploadOffsetMismatch: 409,
    me.UploadBusy: 409,
    me.ToolMissing: 503,
    me.StorageError: 503,
    JwtSecretError: 503,  # the station's own configuration, not the caller's request
}


TITLES = {
    404: "Not found",
    409: "Conflict",
    412: "Precondition failed",
    413: "File too large",
    415: "Unsupported media type",
    410: "Gone",
    422: "Invalid request",
}


class InvalidField(BaseModel):
    where: str = Field(description="where in the request, dotted: body.names.az, query.limit")
    problem: str


class ProblemDetails(BaseModel):
    """An error, as every error of this API is sent (RFC 9457). Some carry more members:
    `errors` for an invalid request, `conflicting` for a schedule conflict."""

    model_config = ConfigDict(extra="allow", title="Problem")

    type: str = Field(
        description="a page saying what the problem means and what to do: "
        "<station>/problems/<reason>"
    )
    title: str
    status: int
    detail: str
    reason: str = Field(description="what went wrong, as a short slug a program can test")
    instance: str = Field(description="the path that was asked for")
    errors: list[InvalidField] = Field(default=[], description="each invalid part (422)")


# What each status means on any route; a route may say more (`problems(..., why=...)`).
MEANINGS = {
    400: "the body could not be read (not UTF-8 JSON, or a malformed form)",
    401: "no credential, or one that is unknown, expired or revoked",
    403: "the credential's role may not do this (the permission matrix, api/auth.py)",
    404: "there is no such thing",
    409: "it conflicts with what is there",
    410: "it was deprecated and its sunset has passed: `detail` says what replaced it",
    412: "changed since you read it (If-Match names an older version)",
    413: "the body is larger than the limit",
    415: "the body is not of a type this operation takes",
    422: "the request is invalid: problem+json says what",
    428: "send If-Match with the ETag you read",
    429: "too many attempts; see Retry-After",
    503: "the station cannot answer this now; its operator has been told why",
}
HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "Bearer, with the error when a credential was refused",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "seconds to wait",
            "required": True,
            "schema": {"type": "integer", "minimum": 0},
        }
    },
}
PROBLEM_REF = "#/components/schemas/Problem"


def problems(*statuses: int, why: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route answering these statuses with a problem: described as they
    are sent (application/problem+json, the Problem schema), `why` saying more per status."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        response: dict[str, Any] = {
            "description": (why or {}).get(status, MEANINGS[status]),
            "content": {PROBLEM: {"schema": {"$ref": PROBLEM_REF}}},
        }
        if status in HEADERS:
            response["headers"] = HEADERS[status]
        out[status] = response
    return out


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
    base = request.app.state.services.settings.base_url
    body = {
        "type": f"{base}/problems/{reason}",
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
        reasons = {400: "malformed-body", 404: "not-found", 405: "method-not-allowed"}
        reason = reasons.get(exc.status_code, "http-error")
        return problem_response(
            request, exc.status_code, detail, detail, reason, getattr(exc, "headers", None)
        )
