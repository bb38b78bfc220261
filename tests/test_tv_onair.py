"""Diaspor TV on air in real time, one station for the module: the sequencer's live
playlists, served by the API, followed by ffmpeg as a player would for about two minutes
across several programme boundaries, and at the same time played by hls.js in Debian's
Chromium; the as-run log, now-playing and the channel list follow them."""

from __future__ import annotations

import itertools
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import numpy as np
import pytest

from media.binaries import Tools
from playout.asrun import AsRunLog
from tests.support import need, need_program
from tests.tv_support import EPISODE_S, EPISODES, TvStation, tv_on_air

pytestmark = pytest.mark.slow
WATCH_S = 110
ORDER = [colour for _, colour, _ in EPISODES]

# The average colour of the picture on screen, drawn into a canvas.
COLOUR_JS = """() => {
  const v = document.getElementById('video');
  const c = document.createElement('canvas'); c.width = 8; c.height = 8;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0, 8, 8);
  const d = g.getImageData(0, 0, 8, 8).data; let r = 0, gr = 0, b = 0;
  for (let i = 0; i < d.length; i += 4) { r += d[i]; gr += d[i + 1]; b += d[i + 2]; }
  return [r, gr, b];
}"""


@pytest.fixture(scope="module")
def tv(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> Iterator[TvStation]:
    with tv_on_air(tmp_path_factory.mktemp("tv"), tools) as station:
        deadline = time.monotonic() + 60
        while httpx.get(station.master, timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "the master playlist never appeared"
            time.sleep(0.5)
        yield station


@pytest.fixture(scope="module")
def watcher(tv: TvStation, tools: Tools) -> Iterator[tuple[subprocess.Popen[bytes], float]]:
    """A player: ffmpeg follows the 180p live playlist, keeping one small frame a second and
    decoding the sound; started once, it runs while the other tests do."""
    variant = tv.master.rsplit("/", 1)[0] + "/180p.m3u8"
    proc = subprocess.Popen(
        [
            tools.ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-dts_delta_threshold",
            "0",
            "-i",
            variant,
            "-map",
            "0:v:0",
            "-t",
            str(WATCH_S),
            "-vf",
            "fps=1,scale=8:8",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:1",
            "-map",
            "0:a:0",
            "-t",
            str(WATCH_S),
            "-f",
            "null",
            "-",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    yield proc, time.monotonic()
    if proc.poll() is None:
        proc.kill()
        proc.communicate()


def colour_of(rgb: np.ndarray) -> str:
    r, g, b = (float(x) for x in rgb.reshape(-1, 3).mean(axis=0))
    if max(r, g, b) < 40:
        return "black"
    return ("red", "green", "blue")[int(np.argmax([r, g, b]))]


def assert_follows_the_schedule(seen: list[str]) -> None:
    """Each change of picture is to the next episode in the schedule's order."""
    changes = [(a, b) for a, b in itertools.pairwise(seen) if a != b]
    assert changes, f"no programme boundary was crossed: {seen}"
    for a, b in changes:
        assert ORDER[(ORDER.index(a) + 1) % 3] == b, seen


def test_hls_js_in_chromium_plays_the_channel_across_a_programme_boundary(
    tv: TvStation, watcher: tuple[subprocess.Popen[bytes], float]
) -> None:
    chromium = need_program("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a test dependency
        need(False, "playwright is not installed (pip install -e .[test])")
        raise
    samples: list[tuple[float, str]] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = browser.new_page()
            page.goto(f"{tv.base}/static/tv.html?src={quote(tv.master, safe='')}")
            end = time.monotonic() + 50  # more than two programmes of 20 s
            while time.monotonic() < end:
                state = page.evaluate(
                    "() => [document.getElementById('video').currentTime,"
                    " window.player.fatal, window.player.errors]"
                )
                assert state[1] is None, f"hls.js fatal error: {state[1]} {state[2]}"
                if state[0] > 0:
                    rgb = page.evaluate(COLOUR_JS)
                    samples.append((state[0], ("red", "green", "blue")[rgb.index(max(rgb))]))
                time.sleep(1)
        finally:
            browser.close()
    assert samples, "the video never started"
    times = [t for t, _ in samples]
    assert times[-1] - times[0] > 35  # currentTime advanced with the wall clock
    assert all(b >= a for a, b in itertools.pairwise(times))
    assert_follows_the_schedule([c for _, c in samples])


def test_a_player_follows_the_channel_continuously_from_programme_to_programme(
    tv: TvStation, watcher: tuple[subprocess.Popen[bytes], float]
) -> None:
    proc, began = watcher
    out, err = proc.communicate(timeout=WATCH_S + 90)
    watched = time.monotonic() - began
    errors = err.decode(errors="replace")
    assert proc.returncode == 0, errors
    assert "rror" not in errors, errors
    frames = np.frombuffer(out, dtype=np.uint8).reshape(-1, 8, 8, 3)
    # It played as long as it was watched: the stream never stalled.
    assert len(frames) >= WATCH_S - 5 and watched < WATCH_S + 45
    seen = [colour_of(f) for f in frames]
    assert len([c for i, c in enumerate(seen) if i == 0 or c != seen[i - 1]]) >= 4, seen
    assert_follows_the_schedule(seen)
    # Each programme lasted its length (the middle ones are whole).
    lengths = [len(list(g)) for _, g in itertools.groupby(seen)][1:-1]
    assert lengths and all(abs(n - EPISODE_S) <= 2 for n in lengths), lengths


def test_as_run_now_playing_and_the_channel_list_follow_the_air(tv: TvStation) -> None:
    rows = AsRunLog(tv.station.db, "diaspor-tv").recent(50)
    cities = {city for city, _, _ in EPISODES}
    assert {r.title for r in rows} >= cities
    assert {r.outcome for r in rows} == {"played"}
    # Each item's segments, by media sequence number: one after another, none missing.
    ranges = [(r.first_seq, r.last_seq) for r in reversed(rows)]
    assert all(a is not None and b is not None and a <= b for a, b in ranges), ranges
    assert all(nxt[0] == prev[1] + 1 for prev, nxt in itertools.pairwise(ranges)), ranges  # type: ignore[operator]
    now_playing = httpx.get(f"{tv.base}/api/v1/channels/diaspor-tv/now-playing").json()
    assert now_playing["current"]["title"] in cities
    channels = httpx.get(f"{tv.base}/api/v1/channels").json()
    tv_channel = next(c for c in channels if c["slug"] == "diaspor-tv")
    assert tv_channel["kind"] == "tv"
    base = tv.station.settings.base_url  # how the station says players reach it
    assert tv_channel["streams"][0]["url"] == f"{base}/files/hls/tv/diaspor-tv/master.m3u8"
    assert tv_channel["streams"][0]["format"] == "hls"
