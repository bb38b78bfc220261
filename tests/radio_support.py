"""A small radio station for playout tests: two songs with Azerbaijani titles on a music
playlist around the clock, and `run_radio` running on its own loop as `diaspor playout` does."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from diaspor import migrate
from diaspor.compose import Station, build_station
from diaspor.playout import run_radio
from media.binaries import Tools
from media.library import IngestOptions
from tests.conftest import settings_for
from tests.support import free_port, run, tone
from tests.test_icecast_conformance import shipped_credentials

SONGS = [("Rəşid Behbudov", "Sarı gəlin"), ("Zeynəb Xanlarova", "Ayrılıq")]


def music_station(
    tmp_path: Path, tools: Tools, *, seconds: float = 5, crossfade_ms: int = 0, **settings: Any
) -> Station:
    config = settings_for(
        tmp_path, f"sqlite:///{tmp_path / 'station.db'}", port=free_port(), **settings
    )
    migrate.upgrade(config.database_url)
    st = build_station(config, tools=tools)
    add_radio_channel(st, tools, tmp_path, seconds=seconds, crossfade_ms=crossfade_ms)
    return st


def add_radio_channel(
    st: Station,
    tools: Tools,
    folder: Path,
    *,
    filler_bed: bool = False,
    seconds: float = 5,
    crossfade_ms: int = 0,
    song: Callable[[int, Path, dict[str, str]], Path] | None = None,
) -> list[int]:
    """Diaspor.FM: the songs on a playlist around the clock (each `seconds` long, a tone of
    its own, or what `song(i, path, tags)` makes). The filler is the same playlist, or with
    `filler_bed` a bed of its own (a lower tone), as a station with a separate filler has.
    Returns the songs' media ids."""
    ids = []
    for i, (artist, title) in enumerate(SONGS):
        tags = {"title": title, "artist": artist}
        if song is not None:
            f = song(i, folder / f"{i}.mp3", tags)
        else:
            f = tone(
                tools.ffmpeg,
                folder / f"{i}.mp3",
                seconds=seconds,
                freq=330 + 110 * i,
                volume=0.3,
                tags=tags,
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
            "crossfade_ms": crossfade_ms,
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


def icecast_station(tmp_path: Path, tools: Tools, icecast_port: int, **extra: Any) -> Station:
    creds = shipped_credentials()
    return music_station(
        tmp_path,
        tools,
        **extra,
        radio_server="icecast",
        icecast_url=f"http://127.0.0.1:{icecast_port}",
        source_password=SecretStr(creds["source_password"]),
        icecast_admin_user=creds["admin_user"],
        icecast_admin_password=SecretStr(creds["admin_password"]),
    )


def wait_for_mount(server_port: int, mount: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            stats = httpx.get(f"http://127.0.0.1:{server_port}/status-json.xsl", timeout=2)
            sources = stats.json()["icestats"].get("source", [])
            sources = sources if isinstance(sources, list) else [sources]
            if any(s.get("listenurl", "").endswith(mount) for s in sources):
                return
        time.sleep(0.2)
    pytest.fail(f"{mount} did not come on air on icecast2 within {timeout} s")


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
            # Off air in order: on a busy machine, after a fault, that can take a while; a
            # loop stopped under a part still going would leave its tasks to the collector.
            self.done.result(90)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
