"""Which language a reader wants: ?lang=, else Accept-Language, else Azerbaijani."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from fastapi import Depends, Header, Query
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Lang = Literal["az", "en", "ru"]
SUPPORTED: tuple[Lang, ...] = ("az", "en", "ru")


def from_accept_language(header: str | None) -> Lang | None:
    """The supported language the client ranks highest (RFC 9110 q-values)."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower().split("-")[0]))
    for neg_q, _, tag in sorted(ranked):
        if neg_q < 0 and tag in SUPPORTED:
            return tag
    return None


class Language(StrEnum):
    """A language the station speaks: one schema in the document, so a generated client has
    one type for every `?lang=`."""

    az = "az"
    en = "en"
    ru = "ru"


async def language(
    lang: Annotated[
        Language | None, Query(description="az, en or ru; default Accept-Language, then az")
    ] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Lang:
    if lang is not None:
        return lang.value
    return from_accept_language(accept_language) or "az"


LangDep = Annotated[Lang, Depends(language)]


class VaryByLanguage:
    """An answer in a language taken from Accept-Language (it says Content-Language, and no
    `?lang=` chose it) says `Vary: Accept-Language`, so a cache in front (a CDN, a browser)
    never hands one reader's language to another. Every route that picks a language is
    covered, whether it returns a model or builds its own Response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or b"lang=" in scope.get("query_string", b""):
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                varies = {v.strip().lower() for v in headers.get("vary", "").split(",")}
                if "content-language" in headers and "accept-language" not in varies:
                    headers.add_vary_header("Accept-Language")
            await send(message)

        await self.app(scope, receive, sending)
