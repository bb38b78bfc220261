"""The HTML answers of the page and embed routes, and how the OpenAPI document tells them: a
page not found is a page (a reader's browser shows it), not application/problem+json."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import HTMLResponse

from api.lang import Lang
from api.pages.documents import not_found_document

# Public and short: a catalogue's availability changes with time, a channel may be made.
PUBLIC = "public, max-age=60"


def html_answer(description: str) -> dict[str, Any]:
    """`responses=` entry for an answer that is an HTML page."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def html_answers(found: str, missing: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route answering with a page, or with a page saying what is not
    there (404)."""
    return {200: html_answer(found), 404: html_answer(missing)}


def page_headers(lang: Lang) -> dict[str, str]:
    return {"Content-Language": lang, "Cache-Control": PUBLIC, "Vary": "Accept-Language"}


def not_found_page(lang: Lang, what: str, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """404, as a page in the reader's language saying what is not here (`what`: a message's
    key)."""
    return HTMLResponse(
        not_found_document(lang, what),
        status_code=404,
        headers={**page_headers(lang), **(headers or {})},
    )
