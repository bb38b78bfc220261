"""Whom the API believes about its client: the reverse proxies of DIASPOR_TRUSTED_PROXIES.

One check, once per request, at the app's outer edge: is the peer one of them? If it is, its
`X-Forwarded-For` and `X-Forwarded-Proto` are taken, by uvicorn's own rules (the client is the
last address not itself a trusted proxy), and the scope notes that the request came through a
trusted proxy, so that another header such an edge sets for the client (its country,
DIASPOR_COUNTRY_HEADER) is believed too (`via_trusted_proxy`). Anyone else's forwarded
headers change nothing.

This used to be uvicorn's own `proxy_headers`; it is done here instead because uvicorn
rewrites the client's address before the app sees the request, and the app could then no
longer tell whether the peer was trusted. `diaspor.demo.server_config` turns uvicorn's off.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

VIA_TRUSTED_PROXY = "via_trusted_proxy"


class TrustedProxies:
    """A pure ASGI middleware, the app's outermost."""

    def __init__(self, app: ASGIApp, trusted: list[str]) -> None:
        self.app = app
        self.forwarded = ProxyHeadersMiddleware(app, trusted_hosts=trusted)  # type: ignore[arg-type]
        self.trusted = self.forwarded.trusted_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        peer = scope.get("client")
        trusted = peer is not None and peer[0] in self.trusted
        scope.setdefault("state", {})[VIA_TRUSTED_PROXY] = trusted
        await self.forwarded(scope, receive, send)  # type: ignore[arg-type]


def via_trusted_proxy(request: Request) -> bool:
    """Whether the request came from one of DIASPOR_TRUSTED_PROXIES (checked by
    `TrustedProxies`; false for an app served without it)."""
    return bool(getattr(request.state, VIA_TRUSTED_PROXY, False))
