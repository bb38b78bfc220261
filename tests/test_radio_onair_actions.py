"""On air, at the listener: an operator skips the long song playing and then plays an
urgent announcement; a listener of the MP3 mount hears the next song take over within
seconds of the skip, then the announcement, then the song again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from media.analysis import analyse
from media.binaries import Tools
from playout.asrun import Boundary
from playout.radio import Playable, RadioEngine
from schedules.plan import (
    ActionSpec,
    Catalogue,
    ChannelSpec,
    EntrySpec,
    MediaRef,
    PlaylistSpec,
    TimelineItem,
    to_ms,
)
from schedules.service import ACTION_LEAD_MS
from schedules.timeline import resolve
from station.clock import SystemClock
from streamer.encoder import Encoder
from streamer.outputs import IcecastOutput
from streamer.relay import Relay
from tests.air_check import Heard, decode, listen, tone_changes
from tests.support import run, tone

pytestmark = pytest.mark.slow
MOUNT = "/diaspor-fm.mp3"
TONES = {"long": 440.0, "next": 660.0, "urgent": 990.0}


def test_a_listener_hears_a_skip_and_an_urgent_announcement_within_seconds(
    tmp_path: Path, tools: Tools
) -> None:
    media: dict[int, MediaRef] = {}
    playable: dict[int, Playable] = {}
    for i, (name, seconds, kind) in enumerate(
        (("long", 60, "music"), ("next", 60, "music"), ("urgent", 5, "speech")), 1
    ):
        f = tone(tools.ffmpeg, tmp_path / f"{name}.mp3", seconds=seconds, freq=TONES[name])
        a = run(analyse(tools, f, has_audio=True, probed_ms=None))
        media[i] = MediaRef(i, kind, name, "Diaspor.FM", a.duration_ms, a.cue_in_ms, a.cue_out_ms)
        playable[i] = Playable(str(f), a.loudness_lufs, a.true_peak_dbtp)
    cat = Catalogue(media=media, playlists={1: PlaylistSpec(1, "Musiqi", (1, 2))})
    channel = ChannelSpec(1, "diaspor-fm", "radio")
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    local = now.astimezone(ZoneInfo("Asia/Baku")).replace(tzinfo=None)
    entry = EntrySpec(1, "playlist", 1, local, duration_ms=600_000, hard=True)
    actions: list[ActionSpec] = []  # what the database holds, as playout reads it

    def timeline(a: int, b: int) -> list[TimelineItem]:
        return resolve(
            channel,
            [entry],
            cat,
            datetime.fromtimestamp(a / 1000, UTC),
            datetime.fromtimestamp(b / 1000, UTC),
            actions=list(actions),
        )

    def act(kind: str, media_id: int | None = None) -> int:
        """An operator's action, as `Schedules.act` stores it: now plus the lead."""
        at = to_ms(datetime.now(UTC)) + ACTION_LEAD_MS
        actions.append(ActionSpec(len(actions) + 1, kind, at, media_id))  # type: ignore[arg-type]
        return at

    async def go() -> tuple[Heard, list[Boundary], int, int]:
        relay = Relay("127.0.0.1", 0, source_password="hackme", admin_password="admin")
        await relay.start()
        enc = Encoder(tools.ffmpeg, [IcecastOutput(MOUNT, "hackme", port=relay.port, codec="mp3")])
        engine = RadioEngine(
            ffmpeg=tools.ffmpeg,
            timeline=timeline,
            playable=playable.get,
            origin_ms=to_ms(now),
            refresh_ms=1000,  # as playout reads the schedule
        )
        stop = asyncio.Event()
        air = asyncio.create_task(engine.run(SystemClock(), enc, stop))
        try:
            for _ in range(100):
                if MOUNT in {m.mount for m in relay.stats()}:
                    break
                await asyncio.sleep(0.1)
            heard = Heard(MOUNT)
            done = asyncio.Event()
            ear = asyncio.create_task(listen(relay.port, MOUNT, done, heard))
            await asyncio.sleep(4)  # the long song plays
            skip_at = act("skip")
            await asyncio.sleep(8)  # the next song takes over
            urgent_at = act("play-now", 3)
            await asyncio.sleep(12)  # the announcement, then the song again
            done.set()
            await ear
        finally:
            stop.set()
            await air
            await enc.close()
            await relay.stop()
        return heard, engine.boundaries, skip_at, urgent_at

    heard, boundaries, skip_at, urgent_at = run(go())
    changes = tone_changes(decode(tools.ffmpeg, bytes(heard.audio)), TONES)
    assert [name for _, name in changes] == ["long", "next", "urgent", "next"], changes
    # Heard where the actions said: the skip to the announcement is the time between them.
    (_, _), (t_next, _), (t_urgent, _), (t_back, _) = changes
    assert abs((t_urgent - t_next) - (urgent_at - skip_at) / 1000) < 0.5, changes
    assert 4.0 < t_back - t_urgent < 6.0  # the announcement, whole
    # What the as-run is told: the long song's row amended (skipped by the operator), then
    # the next song's (cut short by the announcement), and the announcement played.
    amended = [b for b in boundaries if b.amended]
    assert [(b.item.media_id, b.item.action, b.item.end_ms) for b in amended] == [
        (1, "skip", skip_at),
        (2, "", urgent_at),
    ]
    assert all(b.item.cut for b in amended)
    began = [(b.item.media_id, b.item.start_ms) for b in boundaries if not b.amended]
    assert (2, skip_at) in began and (3, urgent_at) in began
    assert began[-1][0] == 2  # the song again, from where it stopped
