"""Every problem's `type` is a page that says what it means: a client developer who meets
`{"type": "…/problems/stale-version"}` opens it. Every reason the code can answer with is in
the catalogue (found by reading the code), and its page is served."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from api.problem_catalogue import CATALOGUE
from station.errors import StationError
from tests.schedule_support import Desk

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "api", "jobs", "media", "playout", "schedules", "station", "streamer")


def reasons_in_code() -> dict[str, str]:
    """Each reason written in the code, and where: `reason = "x"` on an error class,
    `reason="x"` given to an error, and the reason argument of `Problem(...)` and
    `problem_response(...)` (the fourth positional or `reason=`)."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = str(path.relative_to(ROOT))
            for node in ast.walk(tree):
                values: list[ast.expr] = []
                if isinstance(node, ast.ClassDef):
                    for stmt in node.body:
                        if isinstance(stmt, ast.Assign) and [
                            getattr(t, "id", None) for t in stmt.targets
                        ] == ["reason"]:
                            values.append(stmt.value)
                elif isinstance(node, ast.Call):
                    values += [k.value for k in node.keywords if k.arg == "reason"]
                    name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                    if name == "Problem" and len(node.args) >= 4:
                        values.append(node.args[3])
                    if name == "problem_response" and len(node.args) >= 5:
                        values.append(node.args[4])
                for v in values:
                    if isinstance(v, ast.Constant) and isinstance(v.value, str):
                        found.setdefault(v.value, f"{where}:{v.lineno}")
    return found


def test_every_reason_the_code_answers_with_is_described() -> None:
    found = reasons_in_code()
    assert {"stale-version", "schedule-conflict", "invalid-cursor", "not-icecast"} <= set(found)
    missing = {r: at for r, at in found.items() if r not in CATALOGUE}
    assert not missing, f"reasons without a page in api/problem_catalogue.py: {missing}"
    # and every error class's own reason, whichever module defines it
    stack: list[type[StationError]] = [StationError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        assert cls.reason in CATALOGUE, inspect.getsourcefile(cls)


def test_a_problem_names_a_page_that_says_what_it_means(desk: Desk) -> None:
    r = desk.client.get("/api/v1/episodes", params={"cursor": "made-up"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    base = desk.station.settings.base_url
    assert problem["type"] == f"{base}/problems/invalid-cursor"
    page = desk.client.get(problem["type"].removeprefix(base))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "invalid-cursor" in page.text
    assert "Start from the first page" in page.text  # what to do
    index = desk.client.get("/problems")
    assert all(f'href="/problems/{reason}"' in index.text for reason in CATALOGUE)
    unknown = desk.client.get("/problems/no-such-thing")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
