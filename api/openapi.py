"""The OpenAPI description as the app answers: FastAPI's document, with what FastAPI itself,
the guards and the HTTP cache answer added to each operation, as it is sent.

A route declares the problems its own handler raises (`problems(404, 409)`); what it shares
with others is added here, once: FastAPI's own refusals (an invalid request, 422; a body it
cannot read, 400), which it documents as `HTTPValidationError` in `application/json` but
which this app sends as problem+json; the guards' answers (401, 403, and 503 when the JWT
signing key is unusable: `api.auth.GUARD_ANSWERS`); and the HTTP cache's 304 (`api/http.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel

from api.auth import GUARD_ANSWERS
from api.problems import ProblemDetails, problems

REF = "#/components/schemas/"
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
NOT_MODIFIED = {"description": "If-None-Match named the current ETag: nothing has changed, no body"}


def operation_id(route: APIRoute) -> str:
    """A route's operationId: its function's (or `name=`) in camelCase, `listEpisodes`. The
    names are part of the contract (generated clients call them): tests/test_openapi.py
    holds the list, so a renamed function fails there rather than in an app."""
    head, *rest = route.name.split("_")
    return head + "".join(word.capitalize() for word in rest)


TAGS = [
    {"name": "channels", "description": "The radio and TV channels and their streams."},
    {"name": "now-playing", "description": "What is on air, as JSON and Server-Sent Events."},
    {"name": "guide", "description": "The schedule: JSON, iCalendar, XMLTV and M3U."},
    {"name": "on-demand", "description": "Programmes, episodes and podcasts."},
    {"name": "files", "description": "Stored files: HLS playlists and segments, artwork."},
    {"name": "player", "description": "The web player."},
    {"name": "embeds", "description": "Players for partner sites to embed (docs/embed.md)."},
    {"name": "pages", "description": "Public pages of programmes and episodes, to share."},
    {"name": "problems", "description": "What each problem `type` means (HTML pages)."},
    {"name": "auth", "description": "Sign-in, API keys, users and stream keys."},
    {"name": "media", "description": "The media library (editors)."},
    {
        "name": "editing",
        "description": "Channels, programmes, episodes, playlists, clocks and "
        "schedule entries as editors write them, the audit log, and the as-run log.",
    },
    {
        "name": "on-air",
        "description": "Operators' controls of the air: skip the item on air, play an item now.",
    },
    {
        "name": "reports",
        "description": "Audience reports for editors: figures, charts and the monthly page.",
    },
    {"name": "jobs", "description": "Background work: analysis and packaging progress."},
    {"name": "live", "description": "Presenters going live (icecast2's URL authentication)."},
    {
        "name": "audience",
        "description": "Who listens and watches: icecast2's listener hooks, for the ledger.",
    },
    {"name": "health", "description": "Whether the station is well."},
]


def api_routes(app: FastAPI) -> Iterator[RouteContext]:
    """Every route of the document, through the included routers."""
    for ctx in iter_route_contexts(app.routes):
        if isinstance(ctx.original_route, APIRoute) and ctx.include_in_schema:
            yield ctx


def dependencies(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    stack = [dependant]
    while stack:
        d = stack.pop()
        if d.call is not None:
            yield d.call
        stack.extend(d.dependencies)


def shared_answers(ctx: RouteContext) -> dict[int | str, dict[str, Any]]:
    """The problems this route shares with others, as `responses=` would give them."""
    statuses: set[int] = set()
    for call in dependencies(ctx.dependant):
        statuses.update(GUARD_ANSWERS.get(call, ()))
    if ctx.body_field is not None:  # a JSON or form body that FastAPI parses
        statuses.add(400)
    return problems(*sorted(statuses))


def describe(app: FastAPI) -> dict[str, Any]:
    """The document /openapi.json serves."""
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    for ctx in api_routes(app):
        for method in sorted(ctx.methods or ()):
            responses = doc["paths"][ctx.path_format][method.lower()]["responses"]
            validation = responses.get("422", {}).get("content", {}).get("application/json", {})
            if validation.get("schema") == {"$ref": REF + "HTTPValidationError"}:
                responses["422"] = problems(422)[422]
            for status, answer in shared_answers(ctx).items():
                responses.setdefault(str(status), answer)
            streams = "text/event-stream" in responses.get("200", {}).get("content", {})
            if method == "GET" and not streams:
                responses.setdefault("304", NOT_MODIFIED)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    restore_examples(schemas)
    for name in FASTAPI_VALIDATION:
        schemas.pop(name, None)
    problem = ProblemDetails.model_json_schema(ref_template=REF + "{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["Problem"] = problem
    return doc


def models(base: type[BaseModel] = BaseModel) -> Iterator[type[BaseModel]]:
    for sub in base.__subclasses__():
        yield sub
        yield from models(sub)


def restore_examples(schemas: dict[str, Any]) -> None:
    """The examples the API's models give, as written: FastAPI drops every null from the
    document it encodes, examples included, and a null is often what an example shows."""
    for model in models():
        extra = model.model_config.get("json_schema_extra")
        if not model.__module__.startswith("api.") or not isinstance(extra, dict):
            continue
        if model.__name__ in schemas and "examples" in extra:
            schemas[model.__name__]["examples"] = extra["examples"]


def install(app: FastAPI) -> None:
    """Serve `describe(app)` as /openapi.json (made once, on first asking)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
