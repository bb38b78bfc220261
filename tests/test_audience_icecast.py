"""icecast2's listeners in the audience ledger, through the listener hooks of the shipped
deploy/icecast-relay.xml: a real icecast2 relaying the station's mount (from the built-in
relay, standing in for the master) tells the API of each listener who comes and goes, with
the address nginx names in X-Forwarded-For. And what a station needs to know: the API lets
every listener in while its database is away, but icecast2 2.4 itself turns listeners away
while the API does not answer at all (so in production nginx answers for it then:
tests/test_edge.py)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from api.app import create_app
from audience.models import SessionRow
from diaspor.compose import Station, build_station
from media.binaries import Tools
from tests.conftest import settings_for
from tests.support import free_port, serve_app, source_client
from tests.test_icecast_conformance import (
    icecast2_running,
    mounts,
    relay_in_a_thread,
    shipped_credentials,
)
from tests.topology import RELAY_XML

pytestmark = [pytest.mark.slow, pytest.mark.icecast, pytest.mark.runs(seconds=30)]
SECRET = "icecast-hook-sirri-0123456789"
MOUNT = "/diaspor-fm.mp3"
BAKU, BERLIN = "85.132.1.1", "80.130.1.1"
VLC = "VLC/3.0.18 LibVLC/3.0.18"
CAR = "Mozilla/5.0 (Linux; Android 12; Automotive) AppleWebKit/537.36 Chrome/118.0 Safari"


@pytest.fixture
def station(tmp_path: Path, db_url: str, tools: Tools) -> Iterator[Station]:
    st = build_station(settings_for(tmp_path, db_url, icecast_auth_secret=SECRET), tools=tools)
    yield st
    st.close()


def listen(port: int, seconds: float, address: str, agent: str) -> tuple[int, int]:
    """A listener behind nginx (the test's own 127.0.0.1, a trusted proxy) for `seconds`:
    the status icecast2 answered, and the audio bytes it sent."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(
            f"GET {MOUNT} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: {agent}\r\n"
            f"X-Forwarded-For: {address}\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
        got, end = len(head.split(b"\r\n\r\n", 1)[-1]), time.monotonic() + seconds
        while status == 200 and time.monotonic() < end:
            got += len(s.recv(65536))
    return status, got


def sessions(st: Station) -> list[SessionRow]:
    with st.db.session() as s:
        return list(s.execute(select(SessionRow).order_by(SessionRow.id)).scalars())


def wait_for(condition: object, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_icecast2_listeners_are_sessions_and_the_api_never_turns_one_away(
    tmp_path: Path, station: Station, tools: Tools
) -> None:
    port, api_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}/api/v1/audience/icecast"
    password = shipped_credentials()["source_password"]
    with relay_in_a_thread() as master:
        url = f"icecast://source:{password}@127.0.0.1:{master.port}{MOUNT}"
        encoder = subprocess.Popen(source_client(tools.ffmpeg, url, seconds=120))
        try:
            wait_for(lambda: MOUNT in mounts(master), "the station on the master")
            edits = {
                "http://nginx/api/v1/audience/icecast": api,  # (no nginx here: straight)
                "CHANGE-ME-icecast-auth-secret": SECRET,
                f"<server>icecast</server>\n        <port>{port}</port>": (
                    f"<server>127.0.0.1</server>\n        <port>{master.port}</port>"
                ),
            }
            log = tmp_path / "icecast2.log"
            with icecast2_running(log, edits, port, template=RELAY_XML) as relay:
                wait_for(lambda: MOUNT in mounts(relay), "the mount relayed", 30)
                with serve_app(create_app(station), api_port):
                    # Two listeners, from Baku for 3 s and from Berlin for 5 s.
                    status, heard = listen(port, 3, BAKU, VLC)
                    assert status == 200 and heard > 30_000
                    assert listen(port, 5, BERLIN, CAR)[0] == 200
                    wait_for(lambda: len(sessions(station)) == 2, "two sessions")
                    wait_for(
                        lambda: all(r.ended_at for r in sessions(station)), "both sessions ended"
                    )
                    baku, berlin = sessions(station)
                    assert (baku.surface, baku.mount, baku.channel) == (
                        "icecast",
                        MOUNT,
                        "diaspor-fm",
                    )
                    assert (baku.country, baku.player) == ("AZ", "VLC")
                    assert berlin.country == "DE"
                    assert baku.seconds in (3, 4) and berlin.seconds in (5, 6)
                    # The database refuses: the listener is let in all the same.
                    with station.db.engine.begin() as c:
                        c.execute(text("ALTER TABLE audience_sessions RENAME TO away"))
                    try:
                        assert listen(port, 1, BAKU, VLC)[0] == 200
                    finally:
                        with station.db.engine.begin() as c:
                            c.execute(text("ALTER TABLE away RENAME TO audience_sessions"))
                    wait_for(lambda: len(sessions(station)) == 3, "written once it is back")
                # The API is not there at all: icecast2 2.4 turns the listener away. (That is
                # why, in production, it asks nginx, which says yes for an API that does not
                # answer: tests/test_edge.py.)
                assert listen(port, 1, BERLIN, VLC)[0] in (401, 403)
        finally:
            encoder.kill()
            encoder.wait()
    assert not [r for r in sessions(station) if r.player.startswith("Icecast")]
