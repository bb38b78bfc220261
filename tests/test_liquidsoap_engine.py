"""The Liquidsoap engine: a channel's timeline aired by the real Liquidsoap, reported to the
same hooks as the mixer engine, skipping what cannot play, and surviving Liquidsoap's death."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import pytest

from diaspor import migrate
from media.binaries import Tools
from playout.asrun import AsRunLog
from playout.liquidsoap_engine import LiquidsoapEngine, item_key, request_metadata
from playout.radio import Boundary, Playable
from schedules.plan import TimelineItem, to_ms
from station.db import Database
from streamer.liquidsoap_client import LiquidsoapError
from streamer.liquidsoap_script import FileOutput, LiquidsoapConfig, render_script
from tests.air_check import listen_to_each
from tests.radio_support import SONGS, Playout, music_station
from tests.support import free_port, need_program, run, tone

pytestmark = pytest.mark.runs(seconds=60)  # the file, as a whole: see conftest

BAKU = ZoneInfo("Asia/Baku")
T0 = datetime(2026, 11, 29, 10, 0, tzinfo=BAKU)
RATE = 8000  # analysis rate
TONES = (440, 660, 880, 1000)  # the test songs' frequencies


class ShiftedClock:
    """Real time, shifted: the schedule's day runs now, at the speed Liquidsoap plays."""

    def __init__(self, at: datetime) -> None:
        self.offset = timedelta(0)
        self.jump_to(at)

    def jump_to(self, at: datetime) -> None:
        self.offset = at - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def item(
    media_id: int | None,
    start_s: float,
    end_s: float,
    title: str,
    artist: str,
    *,
    cue_in_s: float = 0.0,
    crossfade_s: float = 0.0,
    hard: bool = False,
) -> TimelineItem:
    start, end = to_ms(T0) + int(start_s * 1000), to_ms(T0) + int(end_s * 1000)
    cue_in = int(cue_in_s * 1000)
    xf = int(crossfade_s * 1000)
    return TimelineItem(
        start_ms=start,
        end_ms=end,
        kind="music",
        media_id=media_id,
        cue_in_ms=cue_in,
        cue_out_ms=cue_in + end - start + xf,
        crossfade_ms=xf,
        hard=hard,
        title=title,
        artist=artist,
    )


def as_root() -> bool:
    return os.geteuid() == 0


def sqlite_asrun(tmp_path: Path) -> tuple[Database, AsRunLog]:
    url = f"sqlite:///{tmp_path / 'asrun.db'}"
    migrate.upgrade(url)
    db = Database(url)
    return db, AsRunLog(db, "diaspor-fm")


def decode(ffmpeg: str, path: Path) -> np.ndarray:
    raw = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-nostdin",
            "-i",
            str(path),
            "-ac",
            "1",
            "-ar",
            str(RATE),
            "-f",
            "f32le",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return np.frombuffer(raw, dtype="<f4")


def pitch(x: np.ndarray, at_s: float, width_s: float = 0.4) -> int | None:
    """The tone (of those the tests play) dominant around `at_s`, or None when it is silent
    there; another frequency as it is measured."""
    seg = x[int(at_s * RATE) : int((at_s + width_s) * RATE)]
    if len(seg) == 0 or float(np.max(np.abs(seg))) < 0.01:
        return None
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    f = float(np.fft.rfftfreq(len(seg), 1 / RATE)[int(np.argmax(spectrum))])
    near = min(TONES, key=lambda t: abs(t - f))
    return near if abs(near - f) <= 25 else round(f)


def loud_span(x: np.ndarray) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(x) > 0.01)
    assert len(loud), "the air is silent"
    return loud[0] / RATE, loud[-1] / RATE


async def air(
    engine: LiquidsoapEngine, clock: ShiftedClock, until_s: float, *, at_s: float = -1.0
) -> None:
    """Run the engine; once Liquidsoap answers, move the clock to the timeline's start."""
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(clock, stop))
    ready = asyncio.create_task(engine.ready.wait())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=40, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        assert ready in done, "Liquidsoap did not start"
        clock.jump_to(T0 + timedelta(seconds=at_s))
        while clock.now() < T0 + timedelta(seconds=until_s):
            if task.done():
                task.result()
            await asyncio.sleep(0.1)
    finally:
        stop.set()
        ready.cancel()
        await asyncio.wait_for(task, 30)


# --- pure ----------------------------------------------------------------------------------


def test_an_item_is_annotated_with_cues_gain_crossfade_and_its_key() -> None:
    it = item(7, 0, 180, "Qərənfil", "Şövkət Ələkbərova", cue_in_s=1.5, crossfade_s=3)
    meta = request_metadata(it, gain=-4.2)
    assert meta == {
        "diaspor_item": item_key(it),
        "title": "Qərənfil",
        "artist": "Şövkət Ələkbərova",
        "liq_cue_in": "1.500",
        "liq_cue_out": "184.500",
        "liq_cross_duration": "3.000",
        "liq_amplify": "-4.20 dB",
    }
    joined = request_metadata(it, gain=0.0, join_ms=60_000)
    assert joined["liq_cue_in"] == "61.500"
    assert joined["liq_cue_out"] == "184.500"
    plain = request_metadata(item(8, 0, 4, "", ""), gain=0.0)
    assert "liq_cue_in" not in plain and "title" not in plain


def test_a_title_sent_through_liquidsoap_cannot_inject_a_stream_url() -> None:
    """Liquidsoap hands the annotated title and artist to icecast2, which frames them in
    `StreamTitle='...';` as they come: no quote or control character may reach it."""
    injecting = item(9, 0, 4, "Qız qalası';StreamUrl='http://evil.example/';\x07", "Aşıq'\n")
    meta = request_metadata(injecting, gain=0.0)
    assert meta["title"] == "Qız qalası’;StreamUrl=’http://evil.example/’; "
    assert meta["artist"] == "Aşıq’ "


def test_the_timeline_script_cuts_each_request_and_crosses_by_its_own_length() -> None:
    cfg = LiquidsoapConfig(
        outputs=(FileOutput(Path("/air/x.mp3"), "mp3", append=True),),
        track_cues=True,
        crossfade_seconds=0,
    )
    script = render_script(cfg)
    assert 'cue_cut(id="cue", cue_in_metadata="liq_cue_in", cue_out_metadata="liq_cue_out"' in (
        script
    )
    assert 'override_duration="liq_cross_duration"' in script
    assert 'float_of_string(default=0.000, a.metadata["liq_cross_duration"])' in script
    assert (
        'output.file(id="out0", append=true, %mp3(bitrate=128, internal_quality=2), '
        '"/air/x.mp3", radio)'
    ) in script
    # Cue points come before the gain and the hook, the hook before the overlap.
    assert script.index("cue_cut(") < script.index("track_gain") < script.index("on_track")
    assert script.index("on_track") < script.index("cross(") < script.index("fallback(")


@pytest.mark.liquidsoap
def test_the_liquidsoap_script_for_the_timeline_type_checks(tmp_path: Path) -> None:
    binary = need_program("liquidsoap")
    cfg = LiquidsoapConfig(
        outputs=(FileOutput(tmp_path / "x.mp3", "mp3", append=True),),
        track_cues=True,
        allow_root=as_root(),
    )
    script = tmp_path / "check.liq"
    script.write_text(render_script(cfg), encoding="utf-8")
    res = subprocess.run(
        [binary, "--check", str(script)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_liquidsoap_that_cannot_start_is_reported_at_once(tmp_path: Path) -> None:
    false = need_program("false")
    engine = LiquidsoapEngine(
        outputs=(FileOutput(tmp_path / "air.wav"),),
        timeline=lambda a, b: [],
        playable=lambda m: None,
        origin_ms=to_ms(T0),
        binary=false,
    )

    async def story() -> None:
        with pytest.raises(LiquidsoapError, match="exited with status 1"):
            await engine.run(ShiftedClock(T0), asyncio.Event())

    run(story())
    assert engine.restarts == 0 and not engine.ready.is_set()


# --- the real binary -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("liquidsoap-engine")
    ff = tools.ffmpeg
    bad = d / "xari-bulbul.mp3"
    bad.write_text("bu səs faylı deyil\n", encoding="utf-8")  # not audio at all
    return {
        "qerenfil": tone(ff, d / "qerenfil.mp3", seconds=4, freq=440, tags={"title": "köhnə"}),
        # One second of silence before the tune: cue in skips it.
        "sari": tone(ff, d / "sari-gelin.mp3", seconds=3, freq=660, lead=1.0),
        "lacin": tone(ff, d / "lacin.mp3", seconds=3, freq=1000),
        "bad": bad,
        "qarabag": tone(ff, d / "qarabag.mp3", seconds=4, freq=440),
        "ay": tone(ff, d / "ay-beri-bax.mp3", seconds=10, freq=880),
    }


@pytest.mark.liquidsoap
@pytest.mark.slow
def test_a_timeline_airs_through_liquidsoap_and_is_reported_in_order(
    tmp_path: Path, songs: dict[str, Path], tools: Tools
) -> None:
    binary = need_program("liquidsoap")
    ffprobe = tools.ffprobe or need_program("ffprobe")
    schedule = [
        item(1, 0, 3, "Qərənfil", "Şövkət Ələkbərova", crossfade_s=1.0),
        item(2, 3, 6, "Sarı gəlin", "Rəşid Behbudov", cue_in_s=1.0),
        item(3, 6, 8, "Ayrılıq", "Zeynəb Xanlarova"),  # not in the library
        item(4, 8, 10, "Xarı bülbül", "Qədir Rüstəmov"),  # not audio
        item(5, 10, 16, "Ay bəri bax", "Rəşid Behbudov"),
    ]
    # Edited while "Ay bəri bax" plays: a hard-start news jingle at 13 s cuts it short.
    edited = [
        *schedule[:4],
        replace(schedule[4], end_ms=schedule[4].start_ms + 3000, cut=True),
        item(6, 13, 16, "Laçın", "Rübabə Muradova", hard=True),
    ]
    playable = {
        1: Playable(str(songs["qerenfil"]), -20.0, -8.0),
        2: Playable(str(songs["sari"]), -20.0, -8.0),
        4: Playable(str(songs["bad"]), None, None),
        5: Playable(str(songs["ay"]), -20.0, -8.0),
        6: Playable(str(songs["lacin"]), -20.0, -8.0),
    }
    db, asrun = sqlite_asrun(tmp_path)
    seen: list[Boundary] = []
    out = tmp_path / "air.wav"

    async def broken_hook(b: Boundary) -> None:
        raise RuntimeError("now-playing store is down")  # logged; the air goes on

    engine = LiquidsoapEngine(
        outputs=(FileOutput(out),),
        timeline=lambda a, b: [i for i in schedule if i.end_ms > a and i.start_ms < b],
        playable=playable.get,
        origin_ms=to_ms(T0),
        hooks=[broken_hook, seen.append, asrun.hook],
        binary=binary,
        allow_root=as_root(),
    )
    clock = ShiftedClock(T0 - timedelta(hours=1))

    async def story() -> None:
        async def edit() -> None:
            while clock.now() < T0 + timedelta(seconds=10.5):
                await asyncio.sleep(0.05)
            schedule[:] = edited

        editor = asyncio.create_task(edit())
        await air(engine, clock, until_s=17.0)
        await editor

    try:
        run(story())
        rows = list(reversed(asrun.recent(10)))
    finally:
        db.dispose()

    assert [(b.item.title, b.item.artist, b.outcome) for b in seen] == [
        ("Qərənfil", "Şövkət Ələkbərova", "played"),
        ("Sarı gəlin", "Rəşid Behbudov", "played"),
        ("Ayrılıq", "Zeynəb Xanlarova", "skipped-missing"),
        ("Xarı bülbül", "Qədir Rüstəmov", "skipped-corrupt"),
        ("Ay bəri bax", "Rəşid Behbudov", "played"),
        ("Laçın", "Rübabə Muradova", "played"),
    ]
    assert seen == engine.boundaries
    actual = [b.actual_ms for b in seen]
    assert actual == sorted(actual)
    late = [b.actual_ms - b.item.start_ms for b in seen]
    # Within Liquidsoap's reaction time; the hard start too: the engine knew that what it
    # had pushed before it would overrun, and ended it on time.
    assert all(-300 <= ms <= 400 for ms in late), late
    assert all(b.sample == (b.actual_ms - to_ms(T0)) * 48 for b in seen)
    assert [(r.title, r.artist, r.outcome) for r in rows] == [
        (b.item.title, b.item.artist, b.outcome) for b in seen
    ]
    assert [r.planned_start for r in rows] == [
        T0 + timedelta(seconds=s) for s in (0, 3, 6, 8, 10, 13)
    ]
    assert all(abs(r.actual_start - r.planned_start) < timedelta(seconds=1) for r in rows)

    probe = subprocess.run(
        [
            ffprobe,
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format=duration",
            "-of",
            "default=nw=1",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0 and "codec_name=pcm_s16le" in probe.stdout, probe.stderr
    x = decode(tools.ffmpeg, out)
    start, end = loud_span(x)
    assert 15.4 <= end - start <= 16.6, (start, end)  # the timeline's 16 s
    assert float(probe.stdout.split("duration=")[1].split()[0]) >= end - start
    # Each slot holds what the timeline says: two tunes, 4 s of nothing, Ay, then Laçın.
    assert [pitch(x, start + s) for s in (1.0, 4.3, 7.0, 9.0, 11.5, 15.0)] == [
        440,
        660,
        None,
        None,
        880,
        1000,
    ]


@pytest.mark.liquidsoap
@pytest.mark.slow
def test_when_liquidsoap_dies_it_is_restarted_and_the_timeline_goes_on(
    tmp_path: Path, songs: dict[str, Path], tools: Tools
) -> None:
    binary = need_program("liquidsoap")
    items = [
        item(1, 0, 3, "Sarı gəlin", "Rəşid Behbudov", cue_in_s=1.0),
        item(2, 3, 13, "Ay bəri bax", "Rəşid Behbudov"),
        item(3, 13, 17, "Qarabağ şikəstəsi", "Xan Şuşinski"),
    ]
    playable = {
        1: Playable(str(songs["sari"]), None, None),
        2: Playable(str(songs["ay"]), None, None),
        3: Playable(str(songs["qarabag"]), None, None),
    }
    db, asrun = sqlite_asrun(tmp_path)
    out = tmp_path / "air.mp3"
    engine = LiquidsoapEngine(
        outputs=(FileOutput(out, "mp3", append=True),),
        timeline=lambda a, b: [i for i in items if i.end_ms > a and i.start_ms < b],
        playable=playable.get,
        origin_ms=to_ms(T0),
        hooks=[asrun.hook],
        binary=binary,
        allow_root=as_root(),
        restart_delay_s=0.2,
    )
    clock = ShiftedClock(T0 - timedelta(hours=1))
    pids: list[int] = []

    async def story() -> None:
        async def kill_during_the_second_item() -> None:
            while clock.now() < T0 + timedelta(seconds=3.5):
                await asyncio.sleep(0.05)
            assert engine.pid is not None
            pids.append(engine.pid)
            os.kill(engine.pid, signal.SIGKILL)
            async with asyncio.timeout(30):  # back on air
                while engine.restarts < 1 or not engine.ready.is_set():
                    await asyncio.sleep(0.05)
            assert engine.pid is not None
            pids.append(engine.pid)

        killer = asyncio.create_task(kill_during_the_second_item())
        await air(engine, clock, until_s=17.5)
        await killer

    try:
        run(story())
        rows = list(reversed(asrun.recent(10)))
    finally:
        db.dispose()

    assert engine.restarts == 1
    assert pids[0] != pids[1]
    # The second item is joined where the clock is, and not reported twice; the third,
    # back to back after it, is on time again.
    assert [(r.title, r.outcome) for r in rows] == [
        ("Sarı gəlin", "played"),
        ("Ay bəri bax", "played"),
        ("Qarabağ şikəstəsi", "played"),
    ]
    assert all(abs(r.actual_start - r.planned_start) < timedelta(seconds=1) for r in rows)
    x = decode(tools.ffmpeg, out)
    heard = [pitch(x, s) for s in np.arange(0, len(x) / RATE - 0.4, 0.2)]
    last = max(i for i, f in enumerate(heard) if f == 880)
    tune = [f for f in heard[last + 1 :] if f is not None]
    assert 3.6 <= len(tune) * 0.2 <= 4.4 and set(tune) == {440}, heard
    assert heard[: last + 1].count(880) * 0.2 >= 2.0, heard  # the joined rest of item two


@pytest.mark.liquidsoap
def test_the_station_can_run_diaspor_fm_through_liquidsoap_instead(
    tmp_path: Path, tools: Tools
) -> None:
    """DIASPOR_RADIO_ENGINE=liquidsoap: the same timeline, mounts, titles and as-run."""
    need_program("liquidsoap")
    port = free_port()
    st = music_station(tmp_path, tools, radio_engine="liquidsoap", relay_port=port)
    wanted = {f"{a} - {t}" for a, t in SONGS}
    playout = Playout(st)
    try:
        # The MP3 mount and the low-bitrate AAC one for phones, both with every title.
        mounts = ["/diaspor-fm.mp3", "/diaspor-fm-64.aac"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            listed = httpx.get(f"http://127.0.0.1:{port}/status-json.xsl", timeout=2).json()
            up = {s["listenurl"].split("/", 3)[3] for s in listed["icestats"].get("source", [])}
            if {m[1:] for m in mounts} <= up:
                break
            time.sleep(0.3)
        heard = run(listen_to_each(port, mounts, 12))
        (_, audio), (_, low_audio) = heard
        assert audio > 12 * 16_000 * 0.7
        assert 12 * 8_000 * 0.5 < low_audio < 0.75 * audio
        for titles, _ in heard:
            titles = [t for t in titles if t]
            assert titles and set(titles) <= wanted and len(set(titles)) == 2, titles
    finally:
        playout.close()
    try:
        rows = AsRunLog(st.db, "diaspor-fm").recent(20)
        assert len(rows) >= 3 and {r.outcome for r in rows} == {"played"}
        assert {f"{r.artist} - {r.title}" for r in rows} == wanted
    finally:
        st.close()
