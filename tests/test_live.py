"""Live: who may go live when (the live desk, and icecast2's URL authentication through the
API), and the live feed's levelling."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest
from pydantic import SecretStr

from api.app import create_app
from diaspor.compose import Station, build_station
from media.binaries import Tools
from playout.live import LiveDesk, LiveGain, LiveRefused, live_mount
from playout.mixer import RATE
from station.clock import SimulatedClock
from station.errors import Invalid
from tests.conftest import settings_for
from tests.support import serve_app

BAKU = ZoneInfo("Asia/Baku")
SLOT = datetime(2026, 11, 26, 20, 0, tzinfo=BAKU)  # "Axşam söhbəti", 20:00-21:00 Baku
PASSWORD = "bakı-küləyi-2026"


def schedule_evening_show(st: Station) -> None:
    sch = st.schedules
    filler = sch.create("playlist", {"name": "Fon", "media_ids": []}, "test")
    channel = sch.create(
        "channel",
        {
            "slug": "diaspor-fm",
            "kind": "radio",
            "names": {"az": "Diaspor.FM"},
            "filler_playlist_id": filler.id,
            "freeze_horizon_s": 0,
        },
        "test",
    )
    show = sch.create(
        "programme",
        {
            "slug": "axsam-sohbeti",
            "titles": {"az": "Axşam söhbəti", "en": "Evening Talk"},
            "presenters": ["Aysel Məmmədova"],
        },
        "test",
    )
    sch.create(
        "entry",
        {
            "channel_id": channel.id,
            "target_type": "programme",
            "target_id": show.id,
            "start_local": SLOT.replace(tzinfo=None),
            "duration_ms": 3_600_000,
            "hard": True,
        },
        "test",
    )
    st.users.create("aysel", "Aysel Məmmədova", "presenter", PASSWORD)
    st.users.create("tural", "Tural Həsənov", "presenter", PASSWORD)
    st.users.create("gunay", "Günay", "editor", PASSWORD)


@pytest.fixture
def evening(tmp_path: Path, db_url: str, tools: Tools) -> Iterator[Station]:
    from diaspor import migrate

    settings = settings_for(tmp_path, db_url, live_margin_s=300)
    migrate.upgrade(settings.database_url)
    st = build_station(settings, tools=tools, clock=SimulatedClock(SLOT - timedelta(hours=1)))
    schedule_evening_show(st)
    yield st
    st.close()


def at(st: Station, when: datetime) -> None:
    assert isinstance(st.clock, SimulatedClock)
    st.clock.advance((when - st.clock.now()).total_seconds())


def test_a_presenter_may_go_live_only_in_their_slot_within_the_margin(evening: Station) -> None:
    desk = LiveDesk(evening.schedules, evening.users, evening.clock, margin_s=300)

    def reason(username: str, password: str = PASSWORD) -> str | None:
        try:
            desk.authorise("diaspor-fm", username, password)
        except LiveRefused as e:
            return e.reason
        return None

    at(evening, SLOT - timedelta(minutes=6))
    assert reason("aysel") == "not-your-slot"  # too early
    at(evening, SLOT - timedelta(minutes=4))
    assert reason("aysel") is None  # inside the margin before the slot
    grant = desk.authorise("diaspor-fm", "aysel", PASSWORD)
    end = SLOT + timedelta(hours=1, minutes=5)
    assert grant.until_ms == round(end.timestamp() * 1000)  # slot end + margin
    at(evening, SLOT + timedelta(minutes=30))
    assert reason("aysel") is None
    assert reason("aysel", "wrong password") == "bad-credentials"
    assert reason("nobody") == "bad-credentials"
    assert reason("tural") == "not-your-slot"  # a presenter, but not of this programme
    assert reason("gunay") is None  # editors may take over at any time
    assert desk.presenters_now("diaspor-fm") == "Aysel Məmmədova"
    at(evening, SLOT + timedelta(hours=1, minutes=4))
    assert reason("aysel") is None
    at(evening, SLOT + timedelta(hours=1, minutes=6))
    assert reason("aysel") == "not-your-slot"
    assert desk.presenters_now("diaspor-fm") == ""


def test_icecast2_url_authentication_asks_the_api(evening: Station) -> None:
    """What icecast2 posts for `stream_auth`, and the header it looks for in the answer."""
    evening.settings.source_password = None
    with serve_app(create_app(evening)) as base, httpx.Client(base_url=base) as client:

        def ask(user: str, password: str, mount: str = live_mount("diaspor-fm")) -> httpx.Response:
            return client.post(
                "/api/v1/live/icecast-auth",
                data={
                    "action": "stream_auth",
                    "mount": mount,
                    "ip": "127.0.0.1",
                    "server": "localhost",
                    "port": "8000",
                    "user": user,
                    "pass": password,
                },
            )

        at(evening, SLOT + timedelta(minutes=1))
        ok = ask("aysel", PASSWORD)
        assert ok.status_code == 200 and ok.headers.get("icecast-auth-user") == "1"
        for refused in (
            ask("aysel", "nope"),
            ask("tural", PASSWORD),
            ask("aysel", PASSWORD, "/diaspor-fm.mp3"),
        ):
            assert refused.status_code == 200
            assert "icecast-auth-user" not in refused.headers
            assert refused.headers["icecast-auth-message"]
        at(evening, SLOT - timedelta(hours=2))
        assert "icecast-auth-user" not in ask("aysel", PASSWORD).headers
        # Nothing secret comes back, whatever was asked.
        assert PASSWORD not in ok.text + str(ok.headers)


def test_users_are_checked_when_made(evening: Station) -> None:
    for args, why in [
        (("Aysel", "x", "presenter", PASSWORD), "bad-username"),
        (("leyla", "Leyla", "boss", PASSWORD), "bad-role"),
        (("leyla", "Leyla", "presenter", "short"), "weak-password"),
        (("aysel", "Aysel", "presenter", PASSWORD), "username-taken"),
    ]:
        with pytest.raises(Invalid) as e:
            evening.users.create(*args)
        assert e.value.reason == why
    assert evening.users.authenticate("aysel", PASSWORD) is not None


def sine(seconds: float, amplitude: float, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    mono = (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([mono, mono], axis=1)


def lufs_of_sine(block: np.ndarray) -> float:
    return float(-0.691 + 10 * np.log10(np.mean(np.sum(block.astype(np.float64) ** 2, axis=1))))


@pytest.mark.parametrize("amplitude", [0.05, 0.2, 0.8])
def test_live_audio_is_levelled_toward_the_target_without_passing_the_ceiling(
    amplitude: float,
) -> None:
    gain = LiveGain(-16.0, -1.0)
    signal = sine(12, amplitude)
    out = np.concatenate([gain.apply(signal[i : i + 4800]) for i in range(0, len(signal), 4800)])
    settled = out[-3 * RATE :]
    assert abs(lufs_of_sine(settled) - -16.0) < 1.0
    assert float(np.max(np.abs(out))) <= 10 ** (-1 / 20) + 1e-6
    # Silence (a pause in speech) does not pump the gain up.
    before = gain.gain
    gain.apply(np.zeros((RATE, 2), dtype=np.float32))
    assert gain.gain == pytest.approx(before)


@pytest.mark.icecast
def test_icecast2_lets_a_presenter_onto_the_live_mount_only_when_the_api_says_so(
    evening: Station, tools: Tools, tmp_path: Path
) -> None:
    """The shipped icecast.xml, its live mount's URL authentication pointed at this API."""
    from tests.test_icecast_conformance import icecast2_running, mounts, shipped_credentials

    evening.settings.source_password = SecretStr(shipped_credentials()["source_password"])
    at(evening, SLOT + timedelta(minutes=1))
    mount = live_mount("diaspor-fm")

    def push(server_port: int, user: str, password: str) -> subprocess.Popen[bytes]:
        url = f"icecast://{quote(user)}:{quote(password, safe='')}@127.0.0.1:{server_port}{mount}"
        return subprocess.Popen(
            [
                tools.ffmpeg,
                "-hide_banner",
                "-nostdin",
                "-v",
                "error",
                "-re",
                "-f",
                "lavfi",
                "-i",
                "sine=f=1000:sample_rate=44100:d=20",
                "-ac",
                "2",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "128k",
                "-content_type",
                "audio/mpeg",
                "-f",
                "mp3",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    with serve_app(create_app(evening)) as base:
        edits = {"http://api:8000/api/v1/live/icecast-auth": f"{base}/api/v1/live/icecast-auth"}
        with icecast2_running(tmp_path / "icecast2.log", edits) as server:
            for user, password in (("tural", PASSWORD), ("aysel", "guess")):
                refused = push(server.port, user, password)
                refused.communicate(timeout=15)
                assert refused.returncode != 0, f"{user} got onto the live mount"
                assert mount not in mounts(server)
            aysel = push(server.port, "aysel", PASSWORD)
            try:
                deadline = time.monotonic() + 10
                while mount not in mounts(server):
                    assert aysel.poll() is None, aysel.stderr.read() if aysel.stderr else ""
                    assert time.monotonic() < deadline, server.describe()
                    time.sleep(0.1)
            finally:
                aysel.terminate()
                aysel.communicate(timeout=10)
