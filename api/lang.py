"""Which language a reader wants: ?lang=, else Accept-Language, else Azerbaijani."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from fastapi import Depends, Header, Query

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
