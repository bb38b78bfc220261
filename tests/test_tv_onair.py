"""Diaspor TV on air in real time: the sequencer's live playlists, served by the API, read by
ffmpeg as a player would for about two minutes, across several programme boundaries; and
the as-run log and now-playing that follow them."""

from __future__ import annotations

import itertools
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from media.binaries import Tools
from playout.asrun import AsRunLog
from tests.tv_support import EPISODE_S, EPISODES, tv_on_air

pytestmark = pytest.mark.slow
WATCH_S = 110


def colour_of(rgb: np.ndarray) -> str:
    r, g, b = (float(x) for x in rgb.reshape(-1, 3).mean(axis=0))
    if max(r, g, b) < 40:
        return "black"
    return ("red", "green", "blue")[int(np.argmax([r, g, b]))]


def test_the_channel_plays_continuously_from_programme_to_programme(
    tmp_path: Path, tools: Tools
) -> None:
    with tv_on_air(tmp_path, tools) as tv:
        deadline = time.monotonic() + 60
        while httpx.get(tv.master, timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "the master playlist never appeared"
            time.sleep(0.5)
        master = httpx.get(tv.master, timeout=5).text
        assert "#EXT-X-STREAM-INF" in master and "180p.m3u8" in master
        variant = tv.master.rsplit("/", 1)[0] + "/180p.m3u8"
        began = time.monotonic()
        # A player: ffmpeg follows the live playlist, one frame a second kept, sound decoded.
        watch = subprocess.run(
            [tools.ffmpeg, "-hide_banner", "-v", "error", "-dts_delta_threshold", "0",
             "-i", variant, "-map", "0:v:0", "-t", str(WATCH_S), "-vf", "fps=1,scale=8:8",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
             "-map", "0:a:0", "-t", str(WATCH_S), "-f", "null", "-"],
            capture_output=True, timeout=WATCH_S + 90,
        )  # fmt: skip
        watched = time.monotonic() - began
        now_playing = httpx.get(f"{tv.base}/api/v1/channels/diaspor-tv/now-playing").json()
        channels = httpx.get(f"{tv.base}/api/v1/channels").json()
    errors = watch.stderr.decode(errors="replace")
    assert watch.returncode == 0, errors
    assert "rror" not in errors, errors
    frames = np.frombuffer(watch.stdout, dtype=np.uint8).reshape(-1, 8, 8, 3)
    # It played as long as it was watched: the stream never stalled.
    assert len(frames) >= WATCH_S - 5 and watched < WATCH_S + 45
    seen = [colour_of(f) for f in frames]
    runs = [c for i, c in enumerate(seen) if i == 0 or c != seen[i - 1]]
    order = [colour for _, colour, _ in EPISODES]
    # Several boundaries, each to the next episode in the schedule's order.
    assert len(runs) >= 4, seen
    for a, b in itertools.pairwise(runs):
        assert order[(order.index(a) + 1) % 3] == b, seen
    # Each programme lasted its length (the middle ones are whole).
    lengths = [sum(1 for _ in g) for g in _groups(seen)][1:-1]
    assert lengths and all(abs(n - EPISODE_S) <= 2 for n in lengths), lengths
    rows = AsRunLog(tv.station.db, "diaspor-tv").recent(50)
    assert {r.title for r in rows} >= {city for city, _, _ in EPISODES}
    assert {r.outcome for r in rows} == {"played"}
    assert now_playing["current"]["title"] in {city for city, _, _ in EPISODES}
    tv_channel = next(c for c in channels if c["slug"] == "diaspor-tv")
    assert tv_channel["kind"] == "tv"
    base = tv.station.settings.base_url  # how the station says players reach it
    assert tv_channel["streams"][0]["url"] == f"{base}/files/hls/tv/diaspor-tv/master.m3u8"
    assert tv_channel["streams"][0]["format"] == "hls"


def _groups(seen: list[str]) -> list[list[str]]:
    out: list[list[str]] = []
    for c in seen:
        if out and out[-1][0] == c:
            out[-1].append(c)
        else:
            out.append([c])
    return out
