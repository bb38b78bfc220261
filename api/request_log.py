"""Each request the API answers: its id, one log line, and its time in the metrics.

The id is the caller's `X-Request-ID` when that is a sane token (letters, digits and
`._:-`, at most 128: nginx sends its own `$request_id`, a load balancer or an app may send
theirs), otherwise a new one; it goes back on the answer, on the request's log line, and on
every other line logged while the request is answered (`station.logs.REQUEST_ID`, read by
the handler's filter; the threads a route hands work to take the context with them).

The line says what an operator looks for, and nothing a caller could have put a secret in:
the method, the route's template (`/api/v1/channels/{slug}`, not the path with its values,
never the query string), the status, the time in milliseconds, the id and a tag of the
client's address (the proxy's `X-Forwarded-For` when it is trusted, see
DIASPOR_TRUSTED_PROXIES): `station.logs.address_tag`, never the address itself.
No header is logged, so no `Authorization`.

The time is from the request's arrival here to the answer's last byte. A pure ASGI
middleware, the outermost of the app's but for `api/proxies.py` (which tells it who the
client is): it sees every answer, those the replay table sends again without the framework
(`api/replay.py`, which puts back the route that made the answer) and CORS preflights
included. Route labels are templates, and methods outside the standard ones are counted as
"other", so the metric's label sets stay bounded whatever clients send.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import Any

from prometheus_client import Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from station.logs import REQUEST_ID, address_tag
from station.metrics import Metrics

log = logging.getLogger(__name__)

HEADER = b"x-request-id"
SANE = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def request_id(scope: Scope) -> str:
    """The caller's id, if sane; else a new one (128 random bits, hex)."""
    for name, value in scope["headers"]:
        if name == HEADER:
            if SANE.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return secrets.token_hex(16)


def route_of(scope: Scope) -> str:
    """The template of the route that answered (`/files/{key:path}`), the prefix of a
    mounted app (`/static/{path}`), or "unmatched"."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    if scope.get("endpoint") is not None and "app_root_path" in scope:  # a Mount
        return f"{scope.get('root_path', '')}/{{path}}"
    return UNMATCHED


class RequestLog:
    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self._timers: dict[tuple[str, str, int], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        header = (HEADER, rid.encode("ascii"))
        status = 0

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = REQUEST_ID.set(rid)
        try:
            await self.app(scope, receive, answer)
        finally:
            REQUEST_ID.reset(token)
            # No answer began: the app raised, and the server answers 500.
            self._answered(scope, rid, status or 500, time.perf_counter() - started)

    def _answered(self, scope: Scope, rid: str, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = route_of(scope)
        key = (method, route, status)
        timer = self._timers.get(key)
        if timer is None:
            timer = self._timers[key] = self.metrics.http_duration.labels(
                method, route, str(status)
            )
        timer.observe(seconds)
        if log.isEnabledFor(logging.INFO):
            client: Any = scope.get("client")
            log.info(
                "request answered",
                extra={
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "request_id": rid,
                    "client": address_tag(client[0]) if client else None,
                },
            )
