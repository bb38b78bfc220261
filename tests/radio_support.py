"""A small radio station for playout tests: two songs with Azerbaijani titles on a music
playlist around the clock, and `run_radio` running on its own loop as `diaspor playout` does."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from diaspor import migrate
from diaspor.compose import Station, build_station
from diaspor.playout import run_radio
from media.binaries import Tools
from media.library import IngestOptions
from tests.conftest import settings_for
from tests.support import free_port, run, tone

SONGS = [("Rəşid Behbudov", "Sarı gəlin"), ("Zeynəb Xanlarova", "Ayrılıq")]


def music_station(tmp_path: Path, tools: Tools, **settings: Any) -> Station:
    config = settings_for(
        tmp_path, f"sqlite:///{tmp_path / 'station.db'}", port=free_port(), **settings
    )
    migrate.upgrade(config.database_url)
    st = build_station(config, tools=tools)
    add_radio_channel(st, tools, tmp_path)
    return st


def add_radio_channel(
    st: Station, tools: Tools, folder: Path, *, filler_bed: bool = False, seconds: float = 5
) -> list[int]:
    """Diaspor.FM: the songs on a playlist around the clock (each `seconds` long, a tone of
    its own). The filler is the same playlist, or with `filler_bed` a bed of its own (a
    lower tone), as a station with a separate filler has. Returns the songs' media ids."""
    ids = []
    for i, (artist, title) in enumerate(SONGS):
        f = tone(
            tools.ffmpeg,
            folder / f"{i}.mp3",
            seconds=seconds,
            freq=330 + 110 * i,
            volume=0.3,
            tags={"title": title, "artist": artist},
        )
        ids.append(run(st.library.ingest(f, options=IngestOptions(kind="music"))).item.id)
    filler_ids = ids
    if filler_bed:
        bed = tone(
            tools.ffmpeg, folder / "bed.mp3", seconds=8, freq=220, volume=0.3, tags={"title": "Fon"}
        )
        filler_ids = [run(st.library.ingest(bed, options=IngestOptions(kind="filler"))).item.id]
    run(st.worker().drain())
    sch = st.schedules
    music = sch.create("playlist", {"name": "Musiqi", "media_ids": ids}, "test")
    filler = music
    if filler_bed:
        filler = sch.create("playlist", {"name": "Fon", "media_ids": filler_ids}, "test")
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
    sch.create(
        "entry",
        {
            "channel_id": channel.id,
            "target_type": "playlist",
            "target_id": music.id,
            "start_local": datetime(2026, 1, 1),
            "rrule": "FREQ=DAILY",
            "duration_ms": 86_400_000,
        },
        "test",
    )
    return ids


class Playout:
    """A part of playout (run_radio by default) on its own event loop in a thread, as
    `diaspor playout` runs it."""

    def __init__(
        self,
        station: Station,
        part: Callable[[Station, asyncio.Event], Awaitable[None]] = run_radio,
    ) -> None:
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.done = asyncio.run_coroutine_threadsafe(part(station, self.stop), self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        try:
            self.done.result(30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
