"""Live: who may go live when (the live desk, and icecast2's URL authentication through the
API), and the live feed's levelling."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
from playout.live import LiveGain, LiveRefused, live_mount
from playout.mixer import RATE
from station.clock import SimulatedClock
from station.errors import Invalid
from tests.conftest import settings_for
from tests.support import serve_app, source_client

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


PEOPLE = ("aysel", "tural", "gunay")


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


@pytest.fixture
def keys(evening: Station) -> dict[str, str]:
    """Each person's stream key, as `POST /api/v1/auth/me/stream-key` hands it out."""
    return {u: evening.stream_keys.issue(evening.users.get(u).id)[0] for u in PEOPLE}


def test_a_presenter_may_go_live_only_in_their_slot_within_the_margin(
    evening: Station, keys: dict[str, str]
) -> None:
    desk = evening.live_desk

    def reason(username: str, key: str | None = None, address: str = "192.0.2.7") -> str | None:
        try:
            desk.authorise("diaspor-fm", username, keys[username] if key is None else key, address)
        except LiveRefused as e:
            return e.reason
        return None

    at(evening, SLOT - timedelta(minutes=6))
    assert reason("aysel") == "not-your-slot"  # too early
    at(evening, SLOT - timedelta(minutes=4))
    assert reason("aysel") is None  # inside the margin before the slot
    grant = desk.authorise("diaspor-fm", "aysel", keys["aysel"], "192.0.2.7")
    end = SLOT + timedelta(hours=1, minutes=5)
    assert grant.until_ms == round(end.timestamp() * 1000)  # slot end + margin
    recorded = desk.grants.latest("diaspor-fm")  # what the live feed holds the slot end to
    assert recorded is not None and (recorded.username, recorded.until_ms) == (
        "aysel",
        grant.until_ms,
    )
    at(evening, SLOT + timedelta(minutes=30))
    assert reason("aysel") is None
    assert reason("aysel", "dsk_wrong-key") == "bad-credentials"
    assert reason("aysel", keys["tural"]) == "bad-credentials"  # someone else's key
    assert reason("nobody", keys["aysel"]) == "bad-credentials"
    assert reason("tural") == "not-your-slot"  # a presenter, but not of this programme
    assert reason("gunay") is None  # editors may take over at any time
    assert desk.presenters_now("diaspor-fm") == "Aysel Məmmədova"
    at(evening, SLOT + timedelta(hours=1, minutes=4))
    assert reason("aysel") is None
    at(evening, SLOT + timedelta(hours=1, minutes=6))
    assert reason("aysel") == "not-your-slot"
    assert desk.presenters_now("diaspor-fm") == ""


def test_a_presenter_goes_live_with_a_stream_key_never_their_password(
    evening: Station, keys: dict[str, str]
) -> None:
    """The account password is no source credential; a rotated key ends the old one; a
    revoked key or a disabled account lets nobody in."""
    desk = evening.live_desk
    at(evening, SLOT + timedelta(minutes=1))

    def let_in(username: str, key: str) -> bool:
        try:
            desk.authorise("diaspor-fm", username, key, "192.0.2.8")
        except LiveRefused:
            return False
        return True

    assert let_in("aysel", keys["aysel"])
    assert not let_in("aysel", PASSWORD)
    aysel = evening.users.get("aysel")
    new, info = evening.stream_keys.issue(aysel.id)
    assert new.endswith(info.hint) and new != keys["aysel"]
    assert not let_in("aysel", keys["aysel"]) and let_in("aysel", new)
    assert evening.stream_keys.revoke(aysel.id)
    assert not let_in("aysel", new)
    new = evening.stream_keys.issue(aysel.id)[0]
    evening.users.update("aysel", disabled=True)
    assert not let_in("aysel", new)


def test_going_live_is_throttled_by_address_and_account(
    evening: Station, keys: dict[str, str]
) -> None:
    """Guesses from one address are stopped (the right key too, while the address is
    throttled); the owner, from elsewhere, still goes live."""
    desk = evening.live_desk
    at(evening, SLOT + timedelta(minutes=1))
    limit = evening.settings.login_max_failures
    reasons = []
    for i in range(limit + 2):
        try:
            desk.authorise("diaspor-fm", "aysel", f"dsk_guess-{i}", "203.0.113.9")
        except LiveRefused as e:
            reasons.append(e.reason)
    assert reasons == ["bad-credentials"] * limit + ["throttled"] * 2
    with pytest.raises(LiveRefused) as e:
        desk.authorise("diaspor-fm", "aysel", keys["aysel"], "203.0.113.9")
    assert e.value.reason == "throttled"
    assert desk.authorise("diaspor-fm", "aysel", keys["aysel"], "198.51.100.4").user.username == (
        "aysel"
    )


def test_a_presenter_sees_their_weekly_programmes_next_slots_and_another_sees_none(
    evening: Station,
) -> None:
    """Aysel presents "Axşam söhbəti" tonight and, named by username, "Həftə sonu" every
    Saturday at 11:00: her next slots for two weeks are those, in time order, the ones the
    live desk would let her on air in. Tural presents nothing and sees nothing."""
    sch = evening.schedules
    weekend = sch.create(
        "programme",
        {"slug": "hefte-sonu", "titles": {"az": "Həftə sonu"}, "presenters": ["aysel"]},
        "test",
    )
    sch.create(
        "entry",
        {
            "channel_id": sch.channel("diaspor-fm").id,
            "target_type": "programme",
            "target_id": weekend.id,
            "start_local": datetime(2026, 11, 7, 11, 0),
            "rrule": "FREQ=WEEKLY;BYDAY=SA",
            "duration_ms": 7_200_000,
        },
        "test",
    )
    with serve_app(create_app(evening)) as base, httpx.Client(base_url=base) as client:

        def slots(username: str, **params: str) -> list[dict[str, str]]:
            form = {"username": username, "password": PASSWORD}
            token = client.post("/api/v1/auth/token", data=form).json()["access_token"]
            r = client.get(
                "/api/v1/auth/me/slots",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code == 200, r.text
            found: list[dict[str, str]] = r.json()["slots"]
            return found

        def utc(t: datetime) -> str:
            return t.astimezone(UTC).isoformat().replace("+00:00", "Z")

        mine = slots("aysel")
        saturdays = [
            datetime(2026, 11, 28, 11, tzinfo=BAKU),
            datetime(2026, 12, 5, 11, tzinfo=BAKU),
        ]
        assert [(s["programme"], s["start"], s["end"]) for s in mine] == [
            ("axsam-sohbeti", utc(SLOT), utc(SLOT + timedelta(hours=1))),
            *[("hefte-sonu", utc(t), utc(t + timedelta(hours=2))) for t in saturdays],
        ]
        assert {s["channel"] for s in mine} == {"diaspor-fm"}
        assert mine[0]["programme_title"] == "Axşam söhbəti"
        assert slots("aysel", lang="en")[0]["programme_title"] == "Evening Talk"
        assert [s["programme"] for s in slots("aysel", days="1")] == ["axsam-sohbeti"]
        assert slots("tural") == []
        at(evening, SLOT + timedelta(minutes=30))  # on air now: still listed, until it ends
        assert slots("aysel")[0]["programme"] == "axsam-sohbeti"
        at(evening, SLOT + timedelta(hours=1))
        assert slots("aysel")[0]["programme"] == "hefte-sonu"


AUTH_SECRET = "icecast2-asks-with-this-secret"


def ask_icecast_auth(
    client: httpx.Client,
    user: str,
    key: str,
    mount: str = live_mount("diaspor-fm"),
    *,
    ip: str = "192.0.2.10",
    auth: tuple[str, str] | None = ("icecast", AUTH_SECRET),
) -> httpx.Response:
    """What icecast2 posts for `stream_auth`, with the credentials it is configured with."""
    return client.post(
        "/api/v1/live/icecast-auth",
        data={
            "action": "stream_auth",
            "mount": mount,
            "ip": ip,
            "server": "localhost",
            "port": "8000",
            "user": user,
            "pass": key,
        },
        auth=auth,
    )


def test_icecast2_url_authentication_asks_the_api(evening: Station, keys: dict[str, str]) -> None:
    """The header icecast2 looks for in the answer; every refusal the same answer."""
    evening.settings.icecast_auth_secret = SecretStr(AUTH_SECRET)
    evening.settings.source_password = SecretStr("the-stations-own-source-password")
    with serve_app(create_app(evening)) as base, httpx.Client(base_url=base) as client:
        at(evening, SLOT + timedelta(minutes=1))
        ok = ask_icecast_auth(client, "aysel", keys["aysel"])
        assert ok.status_code == 200 and ok.headers.get("icecast-auth-user") == "1"
        refusals = [
            ask_icecast_auth(client, "aysel", "dsk_nope"),
            ask_icecast_auth(client, "aysel", PASSWORD),  # the account password: no
            ask_icecast_auth(client, "tural", keys["tural"]),  # not his slot
            ask_icecast_auth(client, "aysel", keys["aysel"], "/diaspor-fm.mp3"),
            # The source password is icecast2's own business, not taken here.
            ask_icecast_auth(client, "source", "the-stations-own-source-password"),
        ]
        for refused in refusals:
            assert refused.status_code == 200
            assert "icecast-auth-user" not in refused.headers
        # One answer for every refusal: a wrong key looks like "not your slot".
        assert {r.headers["icecast-auth-message"] for r in refusals} == {"refused"}
        assert len({r.content for r in refusals}) == 1
        at(evening, SLOT - timedelta(hours=2))
        assert "icecast-auth-user" not in ask_icecast_auth(client, "aysel", keys["aysel"]).headers
        # Nothing secret comes back, whatever was asked.
        assert keys["aysel"] not in ok.text + str(ok.headers)


def test_only_icecast2_may_ask_whether_a_source_may_go_live(
    evening: Station, keys: dict[str, str]
) -> None:
    """A stranger calling the API's icecast2 endpoint gets a 401 (without icecast2's secret)
    or a 404 (the secret not set): never an answer about anyone's key."""
    at(evening, SLOT + timedelta(minutes=1))
    with serve_app(create_app(evening)) as base, httpx.Client(base_url=base) as client:
        off = ask_icecast_auth(client, "aysel", keys["aysel"])
        assert off.status_code == 404 and off.json()["reason"] == "icecast-auth-off"
        assert "icecast-auth-user" not in off.headers
        evening.settings.icecast_auth_secret = SecretStr(AUTH_SECRET)
        for auth in (None, ("icecast", "a-guess-at-the-secret"), ("admin", AUTH_SECRET)):
            stranger = ask_icecast_auth(client, "aysel", keys["aysel"], auth=auth)
            assert stranger.status_code == 401, stranger.text
            assert stranger.headers["content-type"] == "application/problem+json"
            assert "icecast-auth-user" not in stranger.headers
        assert ask_icecast_auth(client, "aysel", keys["aysel"]).headers["icecast-auth-user"] == "1"


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
    evening: Station, keys: dict[str, str], tools: Tools, tmp_path: Path
) -> None:
    """The shipped icecast.xml, its live mount's URL authentication pointed at this API, with
    the secret icecast2 sends: a presenter's stream key lets them in, in their slot; their
    account password, a guess and someone else's slot do not."""
    from tests.test_icecast_conformance import icecast2_running, mounts

    evening.settings.icecast_auth_secret = SecretStr(AUTH_SECRET)
    at(evening, SLOT + timedelta(minutes=1))
    mount = live_mount("diaspor-fm")

    def push(server_port: int, user: str, password: str) -> subprocess.Popen[bytes]:
        url = f"icecast://{quote(user)}:{quote(password, safe='')}@127.0.0.1:{server_port}{mount}"
        return subprocess.Popen(
            source_client(tools.ffmpeg, url, seconds=20),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    with serve_app(create_app(evening)) as base:
        edits = {
            "http://api:8000/api/v1/live/icecast-auth": f"{base}/api/v1/live/icecast-auth",
            "CHANGE-ME-icecast-auth-secret": AUTH_SECRET,
        }
        with icecast2_running(tmp_path / "icecast2.log", edits) as server:
            for user, password in (
                ("tural", keys["tural"]),
                ("aysel", "dsk_guess"),
                ("aysel", PASSWORD),
            ):
                refused = push(server.port, user, password)
                refused.communicate(timeout=15)
                assert refused.returncode != 0, f"{user} got onto the live mount"
                assert mount not in mounts(server)
            aysel = push(server.port, "aysel", keys["aysel"])
            try:
                deadline = time.monotonic() + 10
                while mount not in mounts(server):
                    assert aysel.poll() is None, aysel.stderr.read() if aysel.stderr else ""
                    assert time.monotonic() < deadline, server.describe()
                    time.sleep(0.1)
            finally:
                aysel.terminate()
                aysel.communicate(timeout=10)
