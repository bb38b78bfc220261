"""Live takeover and return, on air in real time through the station as `diaspor demo` runs
it: a presenter's source client (ffmpeg) connects to the live mount on the built-in relay
with their own credentials during their programme; listeners hear them, levelled, with the
presenter's name as the title; when the presenter stops, the schedule comes back after the
grace period, and the as-run log and now-playing say what happened."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from pydantic import SecretStr

from diaspor import migrate
from diaspor.compose import Station, build_station
from diaspor.playout import run_radio
from media.binaries import Tools
from media.library import IngestOptions
from playout.asrun import AsRunLog, Outcome
from playout.live import live_mount
from playout.radio import LIVE_TITLE
from streamer.icy import IcyReader, parse_response_head
from tests.conftest import settings_for
from tests.support import free_port, run, source_client, tone

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=45)]
PASSWORD = "bakı-küləyi-2026"  # Aysel's and Tural's account passwords: no source credential
SOURCE_PASSWORD = "the-stations-own-encoders-password"
PRESENTER = "Aysel Məmmədova"
LIVE_HZ = 1000
SCHEDULE_HZ = (440, 550)


@dataclass
class Heard:
    audio: bytearray = field(default_factory=bytearray)
    titles: list[tuple[float, str]] = field(default_factory=list)  # (seconds in, title)
    listened_s: float = 0.0  # wall-clock time connected


async def record(port: int, mount: str, heard: Heard, stop: asyncio.Event) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {mount} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    icy = IcyReader.from_headers(parse_response_head(head).headers)
    loop = asyncio.get_running_loop()
    began = loop.time()
    try:
        while not stop.is_set():
            data = await asyncio.wait_for(reader.read(65536), timeout=5)
            assert data, "the relay closed the listener"
            got = icy.feed(data)
            heard.audio += got.audio
            for t in got.titles:
                if not heard.titles or heard.titles[-1][1] != t:
                    heard.titles.append((loop.time() - began, t))
    finally:
        heard.listened_s = loop.time() - began
        writer.close()
        await writer.wait_closed()


def dominant_hz(pcm: np.ndarray, start_s: float, seconds: float = 0.5) -> int:
    a = pcm[int(start_s * 48000) : int((start_s + seconds) * 48000)]
    spectrum = np.abs(np.fft.rfft(a * np.hanning(len(a))))
    if float(np.sqrt(np.mean(a**2))) < 1e-3:
        return 0  # silence
    return int(round(np.argmax(spectrum) * 48000 / len(a), -1))


def station_with_an_evening_show(
    tmp_path: Path, tools: Tools, *, slot_s: int = 600, **overrides: Any
) -> Station:
    """Diaspor.FM with beds, and Aysel's programme starting in two seconds for `slot_s`."""
    settings = settings_for(
        tmp_path,
        f"sqlite:///{tmp_path / 'station.db'}",
        **{
            "relay_port": free_port(),
            "port": free_port(),
            "live_grace_ms": 2000,
            "source_password": SecretStr(SOURCE_PASSWORD),
            **overrides,
        },
    )
    migrate.upgrade(settings.database_url)
    st = build_station(settings, tools=tools)
    ids = []
    for hz in SCHEDULE_HZ:
        f = tone(
            tools.ffmpeg,
            tmp_path / f"bed{hz}.mp3",
            seconds=6,
            freq=hz,
            volume=0.3,
            tags={"title": f"Fon {hz}", "artist": "Diaspor.FM"},
        )
        ids.append(run(st.library.ingest(f, options=IngestOptions(kind="filler"))).item.id)
    run(st.worker().drain())
    sch = st.schedules
    filler = sch.create("playlist", {"name": "Fon", "media_ids": ids}, "test")
    channel = sch.create(
        "channel",
        {
            "slug": "diaspor-fm",
            "kind": "radio",
            "names": {"az": "Diaspor.FM"},
            "filler_playlist_id": filler.id,
            "freeze_horizon_s": 0,
            "crossfade_ms": 0,
        },
        "test",
    )
    show = sch.create(
        "programme",
        {
            "slug": "axsam-sohbeti",
            "titles": {"az": "Axşam söhbəti"},
            "presenters": [PRESENTER],
        },
        "test",
    )
    baku = ZoneInfo(channel.data["timezone"])
    start = (datetime.now(UTC) + timedelta(seconds=2)).astimezone(baku)
    sch.create(
        "entry",
        {
            "channel_id": channel.id,
            "target_type": "programme",
            "target_id": show.id,
            "start_local": start.replace(tzinfo=None, microsecond=0),
            "duration_ms": slot_s * 1000,
        },
        "test",
    )
    st.users.create("aysel", PRESENTER, "presenter", PASSWORD)
    st.users.create("tural", "Tural Həsənov", "presenter", PASSWORD)
    return st


def stream_keys(st: Station) -> dict[str, str]:
    """Aysel's and Tural's stream keys, as each would make their own."""
    return {u: st.stream_keys.issue(st.users.get(u).id)[0] for u in ("aysel", "tural")}


async def source_status(port: int, mount: str, user: str, password: str) -> int:
    """What the relay answers a source client with these credentials."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    writer.write(
        f"PUT {mount} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\n"
        "Content-Type: audio/mpeg\r\nExpect: 100-continue\r\n\r\n".encode()
    )
    await writer.drain()
    line = await asyncio.wait_for(reader.readline(), timeout=5)
    writer.close()
    await writer.wait_closed()
    return int(line.split()[1])


def test_a_presenter_takes_over_in_their_slot_and_the_schedule_returns(
    tmp_path: Path, tools: Tools
) -> None:
    st = station_with_an_evening_show(tmp_path, tools)
    port = st.settings.relay_port
    mount = live_mount("diaspor-fm")
    keys = stream_keys(st)

    async def go() -> tuple[Heard, float, float, dict[str, object], dict[str, object], int]:
        stop, stop_listening = asyncio.Event(), asyncio.Event()
        air = asyncio.create_task(run_radio(st, stop))
        heard = Heard()
        try:
            while "diaspor-fm" not in st.on_air:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.5)  # the encoder connects to the relay
            listener = asyncio.create_task(record(port, "/diaspor-fm.mp3", heard, stop_listening))
            loop = asyncio.get_running_loop()
            began = loop.time()
            await asyncio.sleep(3)
            refused = [
                await source_status(port, mount, "tural", keys["tural"]),  # not his programme
                await source_status(port, mount, "aysel", PASSWORD),  # her password: no
                await source_status(port, mount, "source", SOURCE_PASSWORD),  # the station's
            ]
            source = await asyncio.create_subprocess_exec(
                *source_client(
                    tools.ffmpeg,
                    f"icecast://aysel:{keys['aysel']}@127.0.0.1:{port}{mount}",
                    seconds=12,
                    freq=LIVE_HZ,
                    volume=0.3,
                ),
                stderr=subprocess.PIPE,
            )
            live_from = loop.time() - began
            await asyncio.sleep(8)
            during = st.now_playing.latest["diaspor-fm"].to_json()
            _, err = await source.communicate()
            assert source.returncode == 0, err.decode()
            live_to = loop.time() - began
            await asyncio.sleep(10)  # grace, then the schedule
            after = st.now_playing.latest["diaspor-fm"].to_json()
            stop_listening.set()
            await listener
        finally:
            stop.set()
            await air
        return heard, live_from, live_to, during, after, refused

    heard, live_from, live_to, during, after, refused = run(go())
    try:
        assert refused == [401, 401, 401]
        stereo = decode(tools, bytes(heard.audio))
        pcm = stereo[:, 0]
        seconds = len(pcm) / 48000
        # The relay's burst put a few seconds from before we connected at the start of the
        # recording; after it, audio came in real time. So wall time t is recording t + shift.
        shift = seconds - heard.listened_s
        assert 0 <= shift < 6
        live_from, live_to = live_from + shift, live_to + shift
        timeline = [(t, dominant_hz(pcm, t)) for t in np.arange(0, seconds - 0.5, 0.25)]
        live = [t for t, hz in timeline if hz == LIVE_HZ]
        assert live, f"the presenter was never heard: {timeline}"
        # Listeners hear the schedule, then the presenter for as long as they talk (within
        # a few seconds of latency), then the schedule again.
        assert {hz for t, hz in timeline if t < live_from} <= {*SCHEDULE_HZ, 0}
        assert live_from < min(live) < live_from + 4
        assert max(live) - min(live) > 12 - 3
        back = [hz for t, hz in timeline if t > max(live) + 0.5]
        assert back and set(back[-8:]) <= set(SCHEDULE_HZ)
        assert max(live) < live_to + 4
        # Levelled toward −16 LUFS (the source sent about −26).
        mid = stereo[int((min(live) + 2) * 48000) : int((max(live) - 1) * 48000)]
        lufs = -0.691 + 10 * np.log10(np.mean(np.sum(mid.astype(np.float64) ** 2, axis=1)))
        assert abs(lufs - -16) < 1.5, lufs
        titles = [t for _, t in heard.titles]
        assert f"{PRESENTER} - {LIVE_TITLE}" in titles
        assert titles[-1].startswith("Diaspor.FM - Fon")
        assert during["live"] is True and during["presenter"] == PRESENTER
        assert after["live"] is False and after["current"] is not None
        rows = AsRunLog(st.db, "diaspor-fm").recent(50)
        live_rows = [r for r in rows if r.kind == "live"]
        assert [(r.artist, r.title) for r in live_rows] == [(PRESENTER, LIVE_TITLE)]
        assert 9_000 < live_rows[0].planned_ms < 20_000  # as long as the presenter was on
        assert any(r.outcome == Outcome.OVERRIDDEN for r in rows)  # beds the presenter talked over
    finally:
        st.close()


def decode(tools: Tools, mp3: bytes) -> np.ndarray:
    out = subprocess.run(
        [
            tools.ffmpeg,
            "-v",
            "error",
            "-i",
            "pipe:0",
            "-ac",
            "2",
            "-ar",
            "48000",
            "-f",
            "f32le",
            "pipe:1",
        ],
        input=mp3,
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype="<f4").reshape(-1, 2)


AUTH_SECRET = "icecast2-asks-the-api-with-this"


@pytest.mark.icecast
def test_on_icecast2_a_presenter_goes_off_air_and_off_the_server_when_their_slot_ends(
    tmp_path: Path, tools: Tools
) -> None:
    """icecast2 ends no source at a time: playout holds the slot's end itself. The presenter
    keeps sending past the end of a short slot (no margin); listeners hear the schedule again
    from the end on, icecast2 no longer has the live mount, and the key is refused after."""
    from api.app import create_app
    from tests.support import serve_app
    from tests.test_icecast_conformance import icecast2_running, mounts, shipped_credentials

    icecast_port = free_port()
    creds = shipped_credentials()
    st = station_with_an_evening_show(
        tmp_path,
        tools,
        slot_s=24,
        radio_server="icecast",
        icecast_url=f"http://127.0.0.1:{icecast_port}",
        source_password=SecretStr(creds["source_password"]),
        icecast_admin_user=creds["admin_user"],
        icecast_admin_password=SecretStr(creds["admin_password"]),
        icecast_auth_secret=SecretStr(AUTH_SECRET),
        live_margin_s=0,
    )
    (entry,) = st.schedules.find("entry")
    baku = ZoneInfo("Asia/Baku")
    local = entry.data["start_local"]
    start = (local if isinstance(local, datetime) else datetime.fromisoformat(local)).replace(
        tzinfo=baku
    )
    slot_end = (start + timedelta(seconds=24)).timestamp()
    key = stream_keys(st)["aysel"]
    mount = live_mount("diaspor-fm")
    url = f"icecast://aysel:{key}@127.0.0.1:{icecast_port}{mount}"

    def push(seconds: int) -> list[str]:
        return source_client(tools.ffmpeg, url, seconds=seconds, freq=LIVE_HZ, volume=0.3)

    async def go(server_mounts: Any) -> tuple[Heard, float, float, int, set[str], int]:
        stop, stop_listening = asyncio.Event(), asyncio.Event()
        air = asyncio.create_task(run_radio(st, stop))
        heard = Heard()
        try:
            while "/diaspor-fm.mp3" not in await asyncio.to_thread(server_mounts):
                await asyncio.sleep(0.2)
            listener = asyncio.create_task(
                record(icecast_port, "/diaspor-fm.mp3", heard, stop_listening)
            )
            # The slot starts two seconds after the station was made: a machine that put the
            # station on icecast2 sooner waits for it (the key is refused before the slot).
            await asyncio.sleep(max(0.0, slot_end - 24 + 0.3 - time.time()))
            began = datetime.now(UTC).timestamp()
            source = await asyncio.create_subprocess_exec(*push(60), stderr=subprocess.PIPE)
            await asyncio.wait_for(source.communicate(), timeout=70)
            ended = datetime.now(UTC).timestamp()
            for _ in range(25):  # icecast2 lists a removed source a moment longer
                left = set(await asyncio.to_thread(server_mounts))
                if mount not in left:
                    break
                await asyncio.sleep(0.2)
            again = await asyncio.create_subprocess_exec(*push(5), stderr=subprocess.PIPE)
            await asyncio.wait_for(again.communicate(), timeout=20)
            await asyncio.sleep(10)  # the schedule, as listeners hear it after the slot
            stop_listening.set()
            await listener
        finally:
            stop.set()
            await air
        assert again.returncode is not None
        return heard, began, ended, source.returncode or 0, left, again.returncode

    with serve_app(create_app(st)) as api:
        edits = {
            "http://api:8000/api/v1/live/icecast-auth": f"{api}/api/v1/live/icecast-auth",
            "CHANGE-ME-icecast-auth-secret": AUTH_SECRET,
        }
        log = tmp_path / "icecast2.log"
        with icecast2_running(log, edits, port=icecast_port) as server:
            heard, began, ended, rc, left, again = run(go(lambda: mounts(server)))
    try:
        # The source was removed at the end of the slot, long before its 60 s were sent.
        assert rc != 0
        assert slot_end - 1 < ended < slot_end + 6, (ended - slot_end, began - slot_end)
        assert mount not in left
        assert again != 0  # her key is refused once her slot is over
        stereo = decode(tools, bytes(heard.audio))
        pcm = stereo[:, 0]
        seconds = len(pcm) / 48000
        shift = seconds - heard.listened_s  # icecast2's burst, as in the relay test above
        timeline = [(t, dominant_hz(pcm, t)) for t in np.arange(0, seconds - 0.5, 0.25)]
        live = [t for t, hz in timeline if hz == LIVE_HZ]
        assert live, f"the presenter was never heard: {timeline}"
        end_in_recording = slot_end - began + shift
        assert max(live) < end_in_recording + 4, (max(live), end_in_recording)
        back = [hz for t, hz in timeline if t > end_in_recording + 4]
        assert len(back) >= 8 and set(back) <= set(SCHEDULE_HZ), back  # 2 s and more
        rows = AsRunLog(st.db, "diaspor-fm").recent(50)
        assert [r.kind for r in rows].count("live") == 1
    finally:
        st.close()
