"""Property-based fuzzing of the whole HTTP API from its own `/openapi.json` (schemathesis).

A station with real data (the radio week of tests/schedule_support.py: channels, programmes,
episodes, playlists, clocks, schedule entries, ingested media) is served in-process over ASGI,
and every operation of the schema is called with generated input, as an admin, checking that
no answer is a server error. Path parameters are often drawn from the ids and slugs
that exist, so the handlers behind a 404 are reached too.

Bounded and reproducible for CI: SQLite only, a fixed number of examples per operation and
a derandomised (seeded) Hypothesis run.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error

from accounts.tokens import create_key
from api.app import create_app
from diaspor import migrate
from tests.schedule_support import Desk, build_radio_week

MAX_EXAMPLES = 25

# Not fuzzed, and why:
EXCLUDED = (
    # Server-sent events: the stream never ends, so a call would never return.
    ("GET", "/api/v1/channels/{slug}/now-playing/events"),
    # A media upload: multipart bodies of real audio/video, ingested with ffmpeg; large
    # bodies and minutes of CPU (test_api_media.py and test_bad_input.py cover it).
    ("POST", "/api/v1/media"),
)


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only (overrides the SQLite + PostgreSQL pair of conftest.py) to bound the time."""
    url = f"sqlite:///{tmp_path / 'test.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
def radio(desk: Desk) -> dict[str, Any]:
    """The radio week, and an admin API key so every editor route is exercised."""
    week = build_radio_week(desk)
    key, token = create_key(desk.station.db, desk.clock, "schemathesis", "admin")
    return {"week": week, "key_id": key.id, "token": token}


@pytest.fixture
def api_schema(desk: Desk, radio: dict[str, Any]) -> Any:
    week = radio["week"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(desk.station))
    for method, path in EXCLUDED:
        schema = schema.exclude(method=method, path=path)

    media_ids = sorted(desk.media.values())
    real: dict[str, list[Any]] = {
        "rid": sorted({v["id"] for v in week.values()}),
        "media_id": media_ids,
        "episode_id": [week["episode"]["id"]],
        "job_id": [1],
        "key_id": [radio["key_id"] + 1],
        "username": ["admin"],
        "lang": ["az", "en"],
    }
    slugs = {
        "/api/v1/channels/": [week["channel"]["slug"]],
        "/api/v1/programmes/": [week["programme"]["slug"]],
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

    return schema


def _summary(exc: BaseException) -> str:
    """The exception, the project frame that raised it and schemathesis' curl reproducer."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/.venv/" not in f.filename]
    where = f" at {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].name})" if frames else ""
    text = "".join(traceback.format_exception_only(exc))  # with Hypothesis' notes
    curl = next((ln.strip() for ln in text.splitlines() if ln.strip().startswith("curl ")), "")
    return f"{type(exc).__name__}: {str(exc).splitlines()[0]}{where}\n    {curl}"


# One test walking the operations itself: schemathesis' pytest integration
# (`schemathesis.pytest.from_fixture`) breaks on pytest 9 (`Function._nodeid` is gone), and a
# schema loaded at import time could not see the fixtures' station.
def test_no_server_error(api_schema: Any, radio: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {radio['token']}"}
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            if case.path_parameters and case.path_parameters.get("key_id") == radio["key_id"]:
                # Revoking our own key would turn every later call into a 401.
                case.path_parameters["key_id"] = radio["key_id"] + 1
            case.call_and_validate(headers=auth, checks=[not_a_server_error])

        try:
            check()
        except Exception as exc:
            # An exception escaping the app (the ASGI client re-raises it) is a 500 on a server.
            failures.append(f"{operation.label}: {_summary(exc)}")
    assert operations > 50
    assert not failures, "\n\n".join(failures)
