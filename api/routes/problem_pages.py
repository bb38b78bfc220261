"""Public: the page each problem's `type` URI names (`api/problem_catalogue.py`), and their
index. A developer who meets `{"type": ".../problems/stale-version"}` opens it and reads what
it means and what to do."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from api.problem_catalogue import CATALOGUE
from api.problems import Problem, problems

router = APIRouter(tags=["problems"])
HTML: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}}
}
STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem}"
    "code{background:#eee;padding:0 .2em}dt{font-weight:600;margin-top:1rem}"
)
CACHE = {"Cache-Control": "public, max-age=86400"}


def prose(text: str) -> str:
    """The catalogue's text as HTML: escaped, `code` marked as such."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escape(text))


def page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )


@router.get(
    "/problems",
    response_class=HTMLResponse,
    summary="Every kind of problem the API answers with (an HTML page)",
    responses=HTML,
)
def list_problem_types() -> HTMLResponse:
    items = "".join(
        f'<dt><a href="/problems/{t.reason}"><code>{t.reason}</code></a>: {escape(t.title)}</dt>'
        f"<dd>{prose(t.meaning)}</dd>"
        for t in CATALOGUE.values()
    )
    body = (
        "<h1>Problems</h1><p>Errors of the Diaspor.FM / Diaspor TV API are "
        "<code>application/problem+json</code> (RFC 9457); each one's <code>type</code> is "
        f"one of these pages.</p><dl>{items}</dl>"
    )
    return HTMLResponse(page("Problems", body), headers=CACHE)


@router.get(
    "/problems/{reason}",
    response_class=HTMLResponse,
    summary="What a problem means and what to do about it (the page its `type` names)",
    responses={**HTML, **problems(404, why={404: "no such kind of problem"})},
)
def get_problem_type(reason: str) -> HTMLResponse:
    kind = CATALOGUE.get(reason)
    if kind is None:
        raise Problem(404, "Not found", f"there is no problem type {reason!r}", "not-found")
    body = (
        f"<p><a href='/problems'>Problems</a></p><h1>{escape(kind.title)}: "
        f"<code>{escape(kind.reason)}</code></h1>"
        f"<dl><dt>What it means</dt><dd>{prose(kind.meaning)}</dd>"
        f"<dt>What to do</dt><dd>{prose(kind.remedy)}</dd></dl>"
        "<p>The problem's <code>detail</code> says more about this occurrence, and "
        "<code>instance</code> names the path that was asked for.</p>"
    )
    return HTMLResponse(page(f"{kind.title}: {kind.reason}", body), headers=CACHE)
