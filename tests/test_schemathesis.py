"""Property-based fuzzing of the whole HTTP API from its own `/openapi.json` (schemathesis).

A station with real data (the radio week of tests/schedule_support.py: channels, programmes,
episodes, playlists, clocks, schedule entries, ingested media and their stored files) is
served in-process over ASGI, and every operation of the schema is called with generated
input: valid input as an admin, input that breaks the schema as an admin, and valid input
without a credential. Every answer must conform to the document: no server error, a
documented status code and content type, a body valid against the schema documented for
that status, and the documented headers (WWW-Authenticate on a 401, Retry-After on a 429).
Path parameters are often drawn from the ids, slugs and storage keys that exist, so the
handlers behind a 404 are reached too.

On SQLite and on PostgreSQL (the suite's `db_url`), bounded and reproducible for CI: a fixed
number of examples per operation, a derandomised (seeded) Hypothesis run, its health checks on.
"""

from __future__ import annotations

import traceback
from typing import Any

import pytest
import schemathesis
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.tokens import create_key
from api.app import create_app
from tests.schedule_support import Desk, build_radio_week

pytestmark = pytest.mark.runs(seconds=60)  # the file, as a whole: see conftest

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

# The parts of a resumable upload (tus) are raw bytes under their own media type.
schemathesis.openapi.media_type("application/offset+octet-stream", st.binary(max_size=4096))

# Not fuzzed, and why:
EXCLUDED = (
    # Server-sent events: the stream never ends, so a call would never return.
    ("GET", "/api/v1/channels/{slug}/now-playing/events"),
    ("GET", "/api/v1/now-playing/events"),
    # A media upload: multipart bodies of real audio/video, ingested with ffmpeg; large
    # bodies and minutes of CPU (test_api_media.py and test_bad_input.py cover it).
    ("POST", "/api/v1/media"),
)


@pytest.fixture
def radio(desk: Desk) -> dict[str, Any]:
    """The radio week, a presenter to manage, and an admin API key so every editor route is
    exercised."""
    week = build_radio_week(desk)
    desk.station.users.create("elvin", "Elvin", "presenter", "presenter-parol-Ç3m5")
    key, token = create_key(desk.station.db, desk.clock, "schemathesis", "admin")
    return {"week": week, "key_id": key.id, "token": token}


@pytest.fixture
def api_schema(desk: Desk, radio: dict[str, Any]) -> Any:
    week = radio["week"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(desk.station))
    for method, path in EXCLUDED:
        schema = schema.exclude(method=method, path=path)

    media = [desk.station.library.get(i) for i in sorted(desk.media.values())]
    real: dict[str, list[Any]] = {
        "rid": sorted({v["id"] for v in week.values()}),
        "media_id": [m.id for m in media],
        "episode_id": [week["episode"]["id"]],
        "job_id": [1],
        "key_id": [radio["key_id"] + 1],
        "username": ["elvin"],
        "lang": ["az", "en"],
        "key": sorted({k for m in media for k in (m.storage_key, m.artwork_key) if k}),
    }
    slugs = {
        "/api/v1/channels/": [week["channel"]["slug"]],
        "/api/v1/programmes/": [week["programme"]["slug"]],
        "/embed/radio/": [week["channel"]["slug"]],
        "/programmes/": [week["programme"]["slug"]],
    }

    @schema.hook
    def flatmap_path_parameters(ctx: Any, params: dict[str, Any]) -> Any:
        if not params:
            return st.just(params)
        path = ctx.operation.path
        known = dict(real)
        for prefix, values in slugs.items():
            if path.startswith(prefix):
                known["slug"] = values
        options = [st.just(params)]
        for name in params:
            if name in known:
                options.append(st.sampled_from(known[name]).map(lambda v, n=name: {**params, n: v}))
        return st.one_of(*options)

    @schema.hook
    def flatmap_headers(ctx: Any, headers: dict[str, Any] | None) -> Any:
        """PATCH and DELETE need If-Match: the version of what is there (every record of the
        week is at version 1) often gets past it, to the handler behind."""
        if ctx.operation.method.upper() not in ("PATCH", "DELETE"):
            return st.just(headers)
        current = st.sampled_from(['"v1"', '"v2"']).map(
            lambda v: {**(headers or {}), "if-match": v}
        )
        return st.one_of(st.just(headers), current)

    return schema


def can_be_sent_wrong(operation: Any) -> bool:
    """Whether input that breaks the schema exists: a body, a query or header parameter, or a
    path parameter constrained beyond "a string" (any path segment is a string). For the
    others negative generation has nothing to break and fails Hypothesis' filter_too_much
    health check, rightly: they are fuzzed with valid input only."""
    raw = operation.definition.raw
    if "requestBody" in raw:
        return True
    for p in raw.get("parameters", []):
        plain = {k: v for k, v in p["schema"].items() if k not in ("title", "description")}
        if p["in"] != "path" or plain != {"type": "string"}:
            return True
    return False


def _summary(exc: BaseException) -> str:
    """The exception, the project frame that raised it and schemathesis' curl reproducer."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/.venv/" not in f.filename]
    where = f" at {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].name})" if frames else ""
    text = "".join(traceback.format_exception_only(exc))  # with Hypothesis' notes
    curl = next((ln.strip() for ln in text.splitlines() if ln.strip().startswith("curl ")), "")
    return f"{type(exc).__name__}: {str(exc).splitlines()[0]}{where}\n    {curl}"


def fuzz(
    operation: Any, mode: GenerationMode, headers: dict[str, str], examples: int, key: int
) -> None:
    """Call the operation with `examples` generated inputs, checking each answer."""

    # No deadline: a shared CI machine's timings vary. Hypothesis' health checks are all on.
    # No explain phase: on a failure the curl reproducer says enough, and sooner.
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
    )
    @given(case=operation.as_strategy(mode))
    def check(case: Any) -> None:
        if case.path_parameters and case.path_parameters.get("key_id") == key:
            # Revoking our own key would turn every later call into a 401.
            case.path_parameters["key_id"] = key + 1
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()


# One test walking the operations itself: schemathesis' pytest integration
# (`schemathesis.pytest.from_fixture`) breaks on pytest 9 (`Function._nodeid` is gone), and a
# schema loaded at import time could not see the fixtures' station.
def test_every_answer_conforms_to_the_openapi_document(
    api_schema: Any, radio: dict[str, Any]
) -> None:
    admin = {"Authorization": f"Bearer {radio['token']}"}
    # (who, what input, examples per operation): 30-45 s per database on two busy cores.
    # Valid input reaches the handlers and their answers, invalid input the refusals, and a
    # stranger needs few examples to be refused.
    runs = (
        ("admin", GenerationMode.POSITIVE, admin, 15),
        ("admin, invalid input", GenerationMode.NEGATIVE, admin, 8),
        ("stranger", GenerationMode.POSITIVE, {}, 2),
    )
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for who, mode, headers, examples in runs:
            if mode is GenerationMode.NEGATIVE and not can_be_sent_wrong(operation):
                continue
            if not headers and "security" not in operation.definition.raw:
                continue  # public: the admin's run has seen it
            try:
                fuzz(operation, mode, headers, examples, radio["key_id"])
            except Exception as exc:
                # An exception escaping the app (the ASGI client re-raises it) is a 500 on a
                # server.
                failures.append(f"{operation.label} ({who}): {_summary(exc)}")
    assert operations > 50
    assert not failures, "\n\n".join(failures)
