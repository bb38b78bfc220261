"""The editors' console's test harness: a station served for real (uvicorn on a free port, its
job worker running beside it) with an admin, an editor and a presenter who sign in with known
passwords, the demo's two channels and a little media; a Playwright page in Debian's
Chromium (never a browser Playwright downloads); and signing in as a person does.

Used by tests/test_console*.py; a page of the console is tested by adding it to PAGES."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from accounts.tokens import create_token
from api.app import create_app
from diaspor import migrate
from diaspor.compose import Station, build_station
from diaspor.demo_schedule import load_demo_schedule
from media.binaries import Tools
from station.settings import Settings
from tests.conftest import fresh_pg_database
from tests.support import need, serve_app

# Every page of the console (its #/ route), as api/static/console/pages/index.js lists them:
# the accessibility and screenshot tests visit each one signed in as an admin.
PAGES = [
    "library",
    "on-air",
    "me",
    "admin/users",
    "admin/keys",
    "admin/audit",
    "schedule",
    "playlists",
    "programmes",
    "audience",
]
PASSWORDS = {
    "admin": "admin-pass-2026",
    "editor": "editor-pass-2026",
    "presenter": "presenter-pass-2026",
}
NAMES = {"admin": "Rəşad Quliyev", "editor": "Leyla Əliyeva", "presenter": "Aysel Məmmədova"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


@dataclass
class ConsoleStation:
    station: Station
    base: str
    editor_token: str  # for checking through the API what the console did

    def api(self) -> httpx.Client:
        """An editor's HTTP client for the station's API (close it: use `with`)."""
        return httpx.Client(
            base_url=self.base,
            headers={"Authorization": f"Bearer {self.editor_token}"},
            timeout=30,
        )


@contextlib.contextmanager
def running_worker(station: Station) -> Iterator[None]:
    """The station's job worker in a thread of its own, as `diaspor demo` runs it."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    worker = station.worker()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(worker.run(stop))

    thread = threading.Thread(target=run, name="console worker", daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()


def wait_for_job(client: httpx.Client, job_id: int | str, seconds: float = 60) -> dict[str, Any]:
    """Polls a job until it has finished (done or failed); answers its last state."""
    end = time.monotonic() + seconds
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in ("done", "failed") or time.monotonic() > end:
            return job
        time.sleep(0.2)


def upload(client: httpx.Client, path: Path, kind: str, title: str) -> dict[str, Any]:
    with open(path, "rb") as fh:
        r = client.post(
            "/api/v1/media", files={"file": (path.name, fh)}, data={"kind": kind, "title": title}
        )
    assert r.status_code in (200, 201), r.text
    body: dict[str, Any] = r.json()
    return body


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="console-db-") as d:
            url = f"sqlite:///{d}/console.db"
            migrate.upgrade(url)
            yield url
        return
    with fresh_pg_database("diaspor_console") as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def console_station(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    tools: Tools,
    media_dir: Path,
) -> Iterator[ConsoleStation]:
    """A station served for real, on SQLite and on PostgreSQL: three users (admin, editor,
    presenter: PASSWORDS), a song and a jingle analysed, the demo's two channels and schedule
    (its programme presented by the presenter)."""
    with database(str(request.param)) as url:
        data = tmp_path_factory.mktemp("console")
        st = build_station(Settings(data_dir=data, database_url=url), tools=tools)
        try:
            for role, password in PASSWORDS.items():
                st.users.create(role, NAMES[role], role, password)
            token = create_token(st.db, st.clock, "console test (editor)", "editor")
            with serve_app(create_app(st)) as base, running_worker(st):
                cs = ConsoleStation(st, base, token)
                with cs.api() as client:
                    song = upload(client, media_dir / "tone.mp3", "music", "Qarabağ şikəstəsi")
                    jingle = upload(client, media_dir / "short.wav", "jingle", "Stansiya nişanı")
                    for body in (song, jingle):
                        assert wait_for_job(client, body["job"]["id"])["status"] == "done"
                load_demo_schedule(st)
                present_the_programme(st, "presenter")
                yield cs
        finally:
            st.close()


def present_the_programme(st: Station, presenter: str) -> None:
    """The demo's programme gets its presenter, and a live hour on Diaspor TV every evening
    at 20:00 in the channel's zone (from 2026, for ever), so the presenter has slots."""
    programme = st.schedules.find("programme")[0]
    st.schedules.update(
        "programme", programme.id, programme.version, {"presenters": [presenter]}, "tests"
    )
    tv = next(c for c in st.schedules.find("channel") if c.data["slug"] == "diaspor-tv")
    st.schedules.create(
        "entry",
        {
            "channel_id": tv.id,
            "target_type": "programme",
            "target_id": programme.id,
            "start_local": datetime(2026, 1, 1, 20, 0),  # wall-clock time in the channel's zone
            "rrule": "FREQ=DAILY",
            "duration_ms": 3_600_000,
        },
        "tests",
    )


def chromium_path() -> str:
    path = shutil.which("chromium")
    need(path is not None, "Chromium is not installed (apt-get install chromium)")
    assert path is not None
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium under Playwright, one per test module."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a test dependency
        need(False, "playwright is not installed (pip install -e .[test])")
        raise
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def browser_page(browser: Any) -> Iterator[Any]:
    """A fresh page (its own context: no storage shared with another test) on a desktop
    screen in Baku's zone; it fails the test on a script error, and is closed after."""
    context = browser.new_context(viewport=DESKTOP, timezone_id="Asia/Baku", locale="az-AZ")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.console_errors = errors
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"script errors on the page: {errors}"


def sign_in(page: Any, base: str, user: str, password: str | None = None) -> None:
    """Open the console and sign in as a person does: the form, then the first page."""
    page.goto(f"{base}/console")
    page.fill("#username", user)
    page.fill("#password", password or PASSWORDS[user])
    page.click("form.sign-in button[type=submit]")
    page.wait_for_selector("#sign-out", timeout=15_000)


def open_page(page: Any, page_id: str) -> None:
    """Go to a console page by its route and wait until it has drawn: not busy (its render
    has finished) and nothing on it says "loading"."""
    page.evaluate("id => { location.hash = '#/' + id }", page_id)
    page.wait_for_function(
        "id => location.hash === '#/' + id"
        " && !document.querySelector('#main .loading, #main [aria-busy=true]')",
        arg=page_id,
        timeout=60_000,  # a station's first guide of two weeks (a presenter's slots) takes time
    )


def screenshots_dir() -> Path:
    """$DIASPOR_SCREENSHOTS_DIR when set, else a folder under the system's temp."""
    d = Path(os.environ.get("DIASPOR_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "console")
    d.mkdir(parents=True, exist_ok=True)
    return d
