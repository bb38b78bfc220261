"""No raw address anywhere: after listeners from known public addresses have been counted
(HLS players, an icecast2 listener hook, a podcast app) and a stranger failed to sign in, the
whole database and every log line of the run are searched for those addresses, and none is
there — while the sessions and their countries are."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import inspect, select, text

from api.app import create_app
from audience.models import SessionRow
from diaspor.compose import Station, build_station
from diaspor.demo import server_config
from media.binaries import Tools
from media.storage import LocalStorage
from station.logs import JsonFormatter
from tests.conftest import settings_for
from tests.support import free_port
from tests.test_audience_hls import Player, radio_playlist, tv_playlist

BAKU, BERLIN, ISTANBUL, US = (
    "85.132.1.1",
    "80.130.1.1",
    "88.230.1.1",
    "8.8.8.8",
)
SECRET = "icecast-hook-sirri-0123456789"


@pytest.fixture
def station(tmp_path: Path, db_url: str, tools: Tools) -> Iterator[Station]:
    st = build_station(settings_for(tmp_path, db_url, icecast_auth_secret=SECRET), tools=tools)
    assert isinstance(st.storage, LocalStorage)
    st.storage.put_bytes("hls/radio/diaspor-fm/128k.m3u8", radio_playlist(0).encode(), "x")
    st.storage.put_bytes("hls/tv/diaspor-tv/360p.m3u8", tv_playlist(0).encode(), "x")
    for n in range(3):
        st.storage.put_bytes(f"hls/radio/diaspor-fm/128k_{n:05d}.aac", b"\xff\xf1" * 50, "x")
        st.storage.put_bytes(f"hls/assets/7/c0ffee/360p/seg_{n:05d}.ts", b"G" * 188, "x")
    yield st
    st.close()


class Lines(logging.Handler):
    """Every line the process logs, formatted as production writes them (JSON lines)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def served_as_in_production(st: Station) -> Iterator[str]:
    """The app under uvicorn as `diaspor serve` runs it (demo.server_config)."""
    port = free_port()
    s = st.settings.model_copy(update={"host": "127.0.0.1", "port": port})
    server = uvicorn.Server(server_config(create_app(st), s))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def dump(st: Station) -> str:
    """Every row of every table, as text."""
    out = []
    with st.db.engine.connect() as c:
        for table in inspect(c).get_table_names():
            out += [repr(tuple(row)) for row in c.execute(text(f'SELECT * FROM "{table}"'))]
    return "\n".join(out)


def test_no_raw_address_is_in_the_database_or_the_logs(station: Station) -> None:
    lines = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(lines)
    root.setLevel(logging.DEBUG)
    try:
        with served_as_in_production(station) as base:
            for address, playlist in (
                (BAKU, "hls/radio/diaspor-fm/128k.m3u8"),
                (BERLIN, "hls/tv/diaspor-tv/360p.m3u8"),
            ):
                player = Player(base, address, "AppleCoreMedia/1.0", playlist)
                player.tick()
                player.close()
            hook = httpx.post(
                f"{base}/api/v1/audience/icecast",
                auth=("icecast", SECRET),
                data={
                    "action": "listener_add",
                    "server": "localhost",
                    "port": "8000",
                    "client": "7",
                    "mount": "/diaspor-fm.mp3",
                    "ip": "127.0.0.1",
                    "agent": "VLC/3.0.18 LibVLC/3.0.18",
                    "ClientHeader.x-forwarded-for": US,
                },
            )
            assert hook.status_code == 200 and hook.headers["icecast-auth-user"] == "1"
            refused = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"username": "admin", "password": "yanlış-parol"},
                headers={"X-Forwarded-For": ISTANBUL},
            )
            assert refused.status_code in (400, 401)
            deadline = time.monotonic() + 10
            while len(sessions := rows(station)) < 3:
                assert time.monotonic() < deadline, sessions
                time.sleep(0.05)
    finally:
        root.removeHandler(lines)
        root.setLevel(level)
    assert sorted(r.country for r in rows(station)) == ["AZ", "DE", "US"]
    logged = "\n".join(lines.lines)
    assert "request answered" in logged and "sign-in refused" in logged
    stored = dump(station)
    for address in (BAKU, BERLIN, ISTANBUL, US):
        assert address not in logged, address
        assert address not in stored, address


def rows(st: Station) -> list[SessionRow]:
    with st.db.session() as s:
        return list(s.execute(select(SessionRow)).scalars())
