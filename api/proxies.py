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

from functools import lru_cache

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware, _TrustedHosts

from station.settings import Settings

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


def client_behind(settings: Settings, peer: str, forwarded: str) -> str:
    """The client of a connection another server saw (icecast2's listener): `peer`, or when
    that is one of DIASPOR_TRUSTED_PROXIES, the client its `X-Forwarded-For` names (the
    last address in it that is not itself a trusted proxy), by uvicorn's rules."""
    trusted = _trusted(settings.trusted_proxies)
    if not forwarded or peer not in trusted:
        return peer
    return trusted.get_trusted_client_address(forwarded)[0] or peer


@lru_cache(maxsize=8)
def _trusted(proxies: str) -> _TrustedHosts:
    return _TrustedHosts(proxies.split(",") if proxies else [])
