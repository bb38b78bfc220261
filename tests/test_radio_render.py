"""Render mode: the radio engine lays an hour of timeline on one PCM line, faster than real
time, and the output is what the timeline said — boundaries, loudness, no dead air."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from media.analysis import analyse
from media.binaries import Tools
from playout.radio import Playable, RadioEngine
from schedules.plan import (
    Catalogue,
    ChannelSpec,
    ClockSlot,
    ClockSpec,
    EntrySpec,
    MediaRef,
    PlaylistSpec,
    TimelineItem,
    to_ms,
)
from schedules.timeline import resolve
from station.metrics import Metrics
from streamer.encoder import Encoder, FileOutput
from tests.support import metric, parse_metrics, run, tone

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=45)]
BAKU = ZoneInfo("Asia/Baku")
START = datetime(2026, 11, 29, 19, 0, tzinfo=BAKU)
END = START + timedelta(hours=1)

# (file, kind, seconds, frequency, volume): loud and quiet on purpose, distinct pitches.
FILES = [
    ("m1", "music", 70, 300, 0.9),
    ("m2", "music", 55, 420, 0.05),
    ("m3", "music", 64, 530, 0.3),
    ("m4", "music", 48, 610, 0.6),
    ("m5", "music", 75, 720, 0.12),
    ("m6", "music", 59, 840, 0.45),
    ("id", "jingle", 5, 1500, 0.5),
    ("news", "speech", 90, 200, 0.2),
    ("bed", "filler", 20, 150, 0.3),
    ("show", "programme", 600, 1000, 0.08),
]


@pytest.fixture(scope="module")
def station_audio(
    tmp_path_factory: pytest.TempPathFactory, tools: Tools
) -> tuple[Catalogue, dict[int, Playable], dict[int, int]]:
    d = tmp_path_factory.mktemp("radio")
    media: dict[int, MediaRef] = {}
    playable: dict[int, Playable] = {}
    freq: dict[int, int] = {}
    for i, (name, kind, secs, f, vol) in enumerate(FILES, 1):
        path = tone(
            tools.ffmpeg,
            d / f"{name}.flac",
            seconds=secs,
            freq=f,
            lead=0.4,
            tail=0.6,
            volume=vol,
            codec=("-c:a", "flac"),
        )
        a = run(analyse(tools, path, has_audio=True, probed_ms=None))
        media[i] = MediaRef(i, kind, name, f"artist {i}", a.duration_ms, a.cue_in_ms, a.cue_out_ms)
        playable[i] = Playable(str(path), a.loudness_lufs, a.true_peak_dbtp)
        freq[i] = f
    cat = Catalogue(
        media=media,
        playlists={
            1: PlaylistSpec(1, "Musiqi", (1, 2, 3, 4, 5, 6), shuffle=True),
            2: PlaylistSpec(2, "Fon", (9,)),
        },
        clocks={
            1: ClockSpec(
                1,
                "Saat",
                (
                    ClockSlot(0, "media", 7, hard=True),
                    ClockSlot(0, "playlist", 1, fill=True),
                    ClockSlot(1_800_000, "media", 8, hard=True),
                    ClockSlot(1_800_000, "playlist", 1, fill=True),
                ),
            )
        },
    )
    return cat, playable, freq


CHANNEL = ChannelSpec(1, "diaspor-fm", "radio", crossfade_ms=3000, filler_playlist_id=2)
ENTRIES = [
    EntrySpec(
        1, "clock", 1, datetime(2026, 11, 1), duration_ms=86_400_000, rrule="FREQ=DAILY", hard=False
    ),
    EntrySpec(2, "media", 10, datetime(2026, 11, 29, 19, 41, 17, 250)),  # a hard start mid-song
]


def render_hour(
    tools: Tools, cat: Catalogue, playable: dict[int, Playable], out: Path
) -> tuple[list[TimelineItem], RadioEngine]:
    items = resolve(CHANNEL, ENTRIES, cat, START, END)
    engine = RadioEngine(
        ffmpeg=tools.ffmpeg,
        timeline=lambda a, b: resolve(
            CHANNEL,
            ENTRIES,
            cat,
            datetime.fromtimestamp(a / 1000, BAKU),
            datetime.fromtimestamp(b / 1000, BAKU),
        ),
        playable=playable.get,
        origin_ms=to_ms(START),
        filler_ids=(9,),
    )

    async def go() -> None:
        sink = Encoder(tools.ffmpeg, [FileOutput(out, "flac")], restart=False)
        try:
            await engine.render(to_ms(END), sink)
        finally:
            await sink.close()

    run(go())
    return items, engine


def pcm(tools: Tools, path: Path, start_s: float, seconds: float) -> np.ndarray:
    raw = subprocess.run(
        [
            tools.ffmpeg,
            "-v",
            "error",
            "-ss",
            f"{start_s:.4f}",
            "-t",
            f"{seconds:.4f}",
            "-i",
            str(path),
            "-ac",
            "1",
            "-f",
            "f32le",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4")


def power_at(x: np.ndarray, f: int) -> float:
    n = np.arange(len(x))
    return float(abs(np.dot(x, np.exp(-2j * np.pi * f * n / 48000))) / max(1, len(x)))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, tools: Tools, station_audio):  # type: ignore[no-untyped-def]
    cat, playable, freq = station_audio
    out = tmp_path_factory.mktemp("out") / "hour.flac"
    items, engine = render_hour(tools, cat, playable, out)
    return out, items, engine, freq


def test_every_boundary_is_at_its_scheduled_sample(rendered, tools: Tools) -> None:  # type: ignore[no-untyped-def]
    out, items, engine, freq = rendered  # noqa: RUF059
    origin = to_ms(START)
    starts = [i for i in items if i.start_ms >= origin]
    assert [(b.item.start_ms, b.item.media_id) for b in engine.boundaries[1:]] == [
        (i.start_ms, i.media_id) for i in starts if i.start_ms > items[0].start_ms
    ]
    for b in engine.boundaries:
        assert b.outcome == "played"
        assert b.sample == (b.item.start_ms - origin) * 48 or b.item is items[0]
    # The output is an hour long, to the sample.
    dur = subprocess.run(
        [
            tools.ffmpeg.replace("ffmpeg", "ffprobe"),
            "-v",
            "error",
            "-show_entries",
            "stream=duration_ts",
            "-of",
            "csv=p=0",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    if dur.returncode == 0 and dur.stdout.strip().isdigit():
        assert int(dur.stdout.strip()) == 3600 * 48000


def test_hard_starts_sound_within_50_ms_of_their_time(rendered, tools: Tools) -> None:  # type: ignore[no-untyped-def]
    out, items, engine, freq = rendered  # noqa: RUF059
    hard = [i for i in items if i.hard and i.start_ms > to_ms(START)]
    assert {i.media_id for i in hard} >= {8, 10}  # the news at :30, the programme at 19:41:17.25
    for item in hard:
        at = (item.start_ms - to_ms(START)) / 1000
        f = freq[item.media_id]
        before = pcm(tools, out, at - 0.06, 0.05)
        after = pcm(tools, out, at + 0.0, 0.05)
        assert power_at(after, f) > 20 * max(power_at(before, f), 1e-6), item


def test_each_item_is_at_the_target_loudness(rendered, tools: Tools) -> None:  # type: ignore[no-untyped-def]
    out, items, engine, freq = rendered  # noqa: RUF059
    checked = 0
    for item in items:
        body_ms = item.length_ms - 2 * 3000
        if item.kind == "slate" or body_ms < 3000 or item.start_ms < to_ms(START):
            continue
        at = (item.start_ms - to_ms(START) + 3000) / 1000
        res = subprocess.run(
            [
                tools.ffmpeg,
                "-hide_banner",
                "-nostats",
                "-ss",
                f"{at:.3f}",
                "-t",
                f"{body_ms / 1000:.3f}",
                "-i",
                str(out),
                "-af",
                "ebur128=framelog=verbose",
                "-f",
                "null",
                "-",
            ],
            capture_output=True,
            text=True,
        )
        loud = float(re.findall(r"I:\s+(-?[\d.]+) LUFS", res.stderr)[-1])
        assert abs(loud - (-16.0)) <= 1.0, (item.title, loud)
        checked += 1
    assert checked > 20


def test_no_silence_longer_than_100_ms_except_where_scheduled(rendered, tools: Tools) -> None:  # type: ignore[no-untyped-def]
    out, items, engine, freq = rendered  # noqa: RUF059
    res = subprocess.run(
        [
            tools.ffmpeg,
            "-hide_banner",
            "-nostats",
            "-i",
            str(out),
            "-af",
            "silencedetect=noise=-50dB:d=0.1",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
    )
    starts = [float(x) for x in re.findall(r"silence_start: (-?[\d.]+)", res.stderr)]
    slates = [
        ((i.start_ms - to_ms(START)) / 1000, (i.end_ms - to_ms(START)) / 1000)
        for i in items
        if i.kind == "slate"
    ]
    for s in starts:
        assert any(a - 0.05 <= s <= b for a, b in slates), f"dead air at {s:.3f} s"


def test_render_mode_writes_the_whole_hour(rendered) -> None:  # type: ignore[no-untyped-def]
    out, items, engine, freq = rendered  # noqa: RUF059
    assert engine.position == 3600 * 48000
    assert engine.dead_air == []


def test_a_missing_and_a_corrupt_file_are_replaced_by_filler_without_dead_air(
    tmp_path: Path,
    tools: Tools,
    station_audio,  # type: ignore[no-untyped-def]
) -> None:
    cat, playable, _freq = station_audio
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3" + bytes(range(256)) * 64)
    playable = {
        **playable,
        1: Playable(str(tmp_path / "gone.flac"), -20.0, -3.0),
        2: Playable(str(broken), -20.0, -3.0),
    }
    items = [
        i
        for i in resolve(CHANNEL, ENTRIES, cat, START, START + timedelta(minutes=8))
        if i.media_id in (1, 2)
    ]
    assert {i.media_id for i in items} == {1, 2}
    end = max(i.end_ms for i in items)
    engine = RadioEngine(
        ffmpeg=tools.ffmpeg,
        timeline=lambda a, b: resolve(
            CHANNEL,
            ENTRIES,
            cat,
            datetime.fromtimestamp(a / 1000, BAKU),
            datetime.fromtimestamp(b / 1000, BAKU),
        ),
        playable=playable.get,
        origin_ms=to_ms(START),
        filler_ids=(9,),
    )
    out = tmp_path / "out.flac"

    async def go() -> None:
        sink = Encoder(tools.ffmpeg, [FileOutput(out, "flac")], restart=False)
        try:
            await engine.render(end, sink)
        finally:
            await sink.close()

    run(go())
    outcomes = {b.item.media_id: b.outcome for b in engine.boundaries if b.item.media_id in (1, 2)}
    assert outcomes == {1: "skipped-missing", 2: "skipped-corrupt"}
    res = subprocess.run(
        [
            tools.ffmpeg,
            "-hide_banner",
            "-nostats",
            "-i",
            str(out),
            "-af",
            "silencedetect=noise=-50dB:d=0.1",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
    )
    slates = [
        ((i.start_ms - to_ms(START)) / 1000, (i.end_ms - to_ms(START)) / 1000)
        for i in resolve(CHANNEL, ENTRIES, cat, START, START + timedelta(minutes=8))
        if i.kind == "slate"
    ]
    for s in (float(x) for x in re.findall(r"silence_start: (-?[\d.]+)", res.stderr)):
        assert any(a - 0.05 <= s <= b for a, b in slates), f"dead air at {s:.3f} s"


def test_silence_on_air_longer_than_the_threshold_is_reported_as_dead_air(
    tools: Tools,
    station_audio,  # type: ignore[no-untyped-def]
) -> None:
    cat, playable, _ = station_audio
    bare = ChannelSpec(2, "bare", "radio")  # no filler, no slate media: gaps are silence
    entries = [EntrySpec(1, "media", 1, datetime(2026, 11, 29, 19, 0, 8))]
    metrics = Metrics()
    engine = RadioEngine(
        ffmpeg=tools.ffmpeg,
        timeline=lambda a, b: resolve(
            bare,
            entries,
            cat,
            datetime.fromtimestamp(a / 1000, BAKU),
            datetime.fromtimestamp(b / 1000, BAKU),
        ),
        playable=playable.get,
        origin_ms=to_ms(START),
        name="bare",
        metrics=metrics,
    )

    class Null:
        async def write(self, data: bytes) -> None:
            pass

        async def close(self) -> None:
            pass

    run(engine.render(to_ms(START) + 20_000, Null()))
    assert engine.dead_air == [(0, 8 * 48000)]  # the 8 s before the song, and nothing else
    # ... and the operator's metrics count those 8 s, once.
    told = parse_metrics(run(metrics.render()).decode())
    assert metric(told, "diaspor_dead_air_seconds_total", channel="bare") == 8.0


class SlowClock:
    """A system whose sleeps overrun (a loaded machine: every sleep takes 2 % longer than
    asked), and whose clock is once stepped forward 3 s (NTP, a stalled VM). Each time the
    engine sleeps, it notes how far the line is ahead of the clock."""

    def __init__(self, start: datetime, engine: RadioEngine) -> None:
        self.start = to_ms(start) / 1000
        self.t = self.start
        self.engine = engine
        self.sleeps = 0
        self.ahead: list[float] = []

    def now(self) -> datetime:
        from datetime import UTC

        return datetime.fromtimestamp(self.t, UTC)

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.ahead.append(self.engine.position / 48000 - (self.t - self.start))
        self.sleeps += 1
        self.t += seconds * 1.02 + (3.0 if self.sleeps == 3000 else 0.0)


def test_on_air_the_line_follows_the_wall_clock_and_never_drifts(
    tools: Tools,
    station_audio,  # type: ignore[no-untyped-def]
) -> None:
    """Ten minutes on air by a clock that runs late and jumps: whenever the engine rests, the
    line is `lead` ahead of the clock, to the sample, so there is no drift to accumulate."""
    import asyncio

    cat, playable, _ = station_audio
    engine = RadioEngine(
        ffmpeg=tools.ffmpeg,
        timeline=lambda a, b: resolve(
            CHANNEL,
            ENTRIES,
            cat,
            datetime.fromtimestamp(a / 1000, BAKU),
            datetime.fromtimestamp(b / 1000, BAKU),
        ),
        playable=playable.get,
        origin_ms=to_ms(START),
        filler_ids=(9,),
    )
    clock = SlowClock(START, engine)

    class Null:
        async def write(self, data: bytes) -> None:
            pass

        async def close(self) -> None:
            pass

    async def go() -> None:
        stop = asyncio.Event()
        air = asyncio.create_task(engine.run(clock, Null(), stop, chunk_ms=100, lead_ms=500))
        while clock.t - clock.start < 600:
            await asyncio.sleep(0)
        stop.set()
        await air

    run(go())
    assert clock.sleeps > 5000  # the whole ten minutes, through the jump
    assert all(abs(a - 0.5) < 0.001 for a in clock.ahead), (min(clock.ahead), max(clock.ahead))
