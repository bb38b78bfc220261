"""A small TV station for on-air tests: three short episodes of "Vətən uzaqda deyil", packaged
into a small ladder with 2 s segments, scheduled back to back every minute, and playout
running on its own loop with the API serving the playlists.

Each episode can be told from the others, and each of its frames and seconds from the rest,
in what a player decodes: its own colour; its own tone, which falls silent for the last
tenth of every second (so each second's tone begins on a known frame: a mark for sound
against picture); and a frame code, a row of black and white blocks in the top left corner
giving the episode's number and the frame's, read back from the pixels."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from api.app import create_app
from diaspor import migrate
from diaspor.compose import Station, build_station
from diaspor.playout import run_playout, run_tv
from media.binaries import Tools
from media.library import IngestOptions
from tests.conftest import settings_for
from tests.radio_support import Playout, music_station
from tests.support import H264_AAC, free_port, make_media, run, serve_app

EPISODES = [("Bakı", "red", 300), ("Berlin", "green", 500), ("Toronto", "blue", 700)]
EPISODE_S = 20
SEGMENT_S = 2
FPS = 25
TONE_ON_S = 0.9  # of every second; silence for the rest
FRAME_BITS = 12  # the frame's number, then two bits of the episode's
CODE_BITS = FRAME_BITS + 2
CODE_PX = 20  # each bit a block this size, in a row along the top
CODE_WIDTH = CODE_BITS * CODE_PX


@dataclass
class TvStation:
    station: Station
    base: str  # the API's URL
    episode_ids: list[int]

    @property
    def master(self) -> str:
        return f"{self.base}/files/hls/tv/diaspor-tv/master.m3u8"


def frame_code_filter(episode: int) -> str:
    """drawbox filters writing `episode << FRAME_BITS | frame number` into the corner."""
    boxes = [f"drawbox=x=0:y=0:w={CODE_WIDTH}:h={CODE_PX}:color=black:t=fill"]
    boxes += [
        f"drawbox=x={i * CODE_PX}:y=0:w={CODE_PX}:h={CODE_PX}:color=white:t=fill:"
        f"enable='eq(mod(floor((n+{episode << FRAME_BITS})/{1 << i}),2),1)'"
        for i in range(CODE_BITS)
    ]
    return ",".join(boxes)


def read_frame_codes(pixels: np.ndarray) -> np.ndarray:
    """The codes of frames given as grey CODE_PX x CODE_WIDTH crops of their corner (the
    middle of each block, so that the encoder's softened edges do not count)."""
    n = len(pixels)
    inner = slice(CODE_PX // 4, CODE_PX - CODE_PX // 4)
    blocks = pixels[:, inner, :].reshape(n, -1, CODE_BITS, CODE_PX)[:, :, :, inner]
    bits = blocks.mean(axis=(1, 3)) > 128
    return np.asarray((bits * (1 << np.arange(CODE_BITS))).sum(axis=1), dtype=np.int64)


def episode_file(tools: Tools, folder: Path, n: int) -> Path:
    city, colour, hz = EPISODES[n - 1]
    return make_media(
        tools.ffmpeg,
        folder / f"{city}.mp4",
        "-f",
        "lavfi",
        "-i",
        f"color=c={colour}:size=320x180:rate={FPS}:duration={EPISODE_S}",
        "-f",
        "lavfi",
        "-i",
        f"aevalsrc=exprs='0.3*sin(2*PI*{hz}*t)*lt(mod(t,1),{TONE_ON_S})':s=48000:d={EPISODE_S}",
        "-vf",
        frame_code_filter(n),
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
    for n, (city, _, _) in enumerate(EPISODES, 1):
        f = episode_file(tools, folder, n)
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
        tv_segment_s=SEGMENT_S,
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


def radio_and_tv_station(tmp_path: Path, tools: Tools) -> Station:
    """Diaspor.FM (tests/radio_support.py) and Diaspor TV on one station, with short HLS
    segments and a small ladder: what the browser tests put on air."""
    st = music_station(
        tmp_path,
        tools,
        relay_port=free_port(),
        hls_segment_s=SEGMENT_S,
        tv_ladder=["180p:320x180:300", "90p:160x90:120"],
        tv_segment_s=SEGMENT_S,
        tv_window=6,
    )
    add_tv_channel(st, tools, tmp_path / "src")
    return st


@contextmanager
def radio_and_tv_on_air(st: Station, timeout_s: float = 60) -> Iterator[str]:
    """`run_playout` on the station (as `diaspor playout`) and its API under a real uvicorn;
    yields the API's URL once both channels list their streams and the TV's master playlist
    is there."""
    playout = Playout(st, run_playout)
    try:
        with serve_app(create_app(st), st.settings.port) as base:
            deadline = time.monotonic() + timeout_s
            while True:
                channels = [
                    httpx.get(f"{base}/api/v1/channels/{slug}", timeout=5).json()
                    for slug in ("diaspor-fm", "diaspor-tv")
                ]
                master = httpx.get(f"{base}/files/hls/tv/diaspor-tv/master.m3u8", timeout=5)
                if master.status_code == 200 and all(c["streams"] for c in channels):
                    break
                assert time.monotonic() < deadline, f"not on air: {channels}"
                time.sleep(0.5)
            yield base
    finally:
        playout.close()
