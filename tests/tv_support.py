"""A small TV station for on-air tests: three short episodes of "Vətən uzaqda deyil" (each a
different colour and tone, a burnt-in clock where the font allows), packaged into a small
ladder with 2 s segments, scheduled back to back every minute, and playout running on its own
loop with the API serving the playlists."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from api.app import create_app
from diaspor import migrate
from diaspor.compose import Station, build_station
from diaspor.playout import run_tv
from media.binaries import Tools
from media.library import IngestOptions
from tests.conftest import settings_for
from tests.radio_support import Playout
from tests.support import H264_AAC, free_port, make_media, run, serve_app

EPISODES = [("Bakı", "red", 300), ("Berlin", "green", 500), ("Toronto", "blue", 700)]
EPISODE_S = 20


@dataclass
class TvStation:
    station: Station
    base: str  # the API's URL
    episode_ids: list[int]

    @property
    def master(self) -> str:
        return f"{self.base}/files/hls/tv/diaspor-tv/master.m3u8"


def episode_file(tools: Tools, folder: Path, city: str, colour: str, hz: int) -> Path:
    return make_media(
        tools.ffmpeg,
        folder / f"{city}.mp4",
        "-f",
        "lavfi",
        "-i",
        f"color=c={colour}:size=320x180:rate=25:duration={EPISODE_S}",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency={hz}:sample_rate=48000:duration={EPISODE_S}",
        "-af",
        "volume=0.3",
        *H264_AAC,
        "-shortest",
    )


def add_tv_channel(st: Station, tools: Tools, folder: Path) -> None:
    """Diaspor TV: three episodes of "Vətən uzaqda deyil" back to back, every minute,
    ingested, analysed and packaged."""
    sch = st.schedules
    channel = sch.create(
        "channel",
        {
            "slug": "diaspor-tv",
            "kind": "tv",
            "names": {"az": "Diaspor TV"},
            "freeze_horizon_s": 0,
        },
        "test",
    )
    programme = sch.create(
        "programme",
        {
            "slug": "veten-uzaqda-deyil",
            "titles": {
                "az": "Vətən uzaqda deyil",
                "en": "Homeland Is Not Far",
                "ru": "Родина недалеко",
            },
        },
        "test",
    )
    for n, (city, colour, hz) in enumerate(EPISODES, 1):
        f = episode_file(tools, folder, city, colour, hz)
        media = run(st.library.ingest(f, options=IngestOptions(kind="programme", title=city)))
        ep = sch.create(
            "episode",
            {
                "programme_id": programme.id,
                "season": 1,
                "number": n,
                "titles": {"az": city},
                "media_id": media.item.id,
            },
            "test",
        )
        sch.create(
            "entry",
            {
                "channel_id": channel.id,
                "target_type": "programme",
                "target_id": programme.id,
                "episode_id": ep.id,
                "start_local": datetime(2026, 1, 1) + timedelta(seconds=EPISODE_S * (n - 1)),
                "rrule": "FREQ=MINUTELY",
            },
            "test",
        )
        created = time.time()
    run(st.worker().drain())  # analysis, then packaging
    # An entry made now joins its occurrence in progress (the rest of an episode, cut
    # short): the tests watch whole programmes, so playout starts after that one.
    time.sleep(max(0.0, (created // EPISODE_S + 1) * EPISODE_S - time.time()))


def tv_station(tmp_path: Path, tools: Tools, **extra: Any) -> Station:
    settings = settings_for(
        tmp_path,
        f"sqlite:///{tmp_path / 'station.db'}",
        port=free_port(),
        tv_ladder=["180p:320x180:300", "90p:160x90:120"],
        tv_segment_s=2,
        tv_window=6,
        **extra,
    )
    migrate.upgrade(settings.database_url)
    st = build_station(settings, tools=tools)
    add_tv_channel(st, tools, tmp_path / "src")
    return st


@contextmanager
def tv_on_air(tmp_path: Path, tools: Tools, **extra: Any) -> Iterator[TvStation]:
    st = tv_station(tmp_path, tools, **extra)
    playout = Playout(st, run_tv)
    try:
        with serve_app(create_app(st)) as base:
            yield TvStation(st, base, [])
    finally:
        try:
            playout.close()
        finally:
            st.close()
