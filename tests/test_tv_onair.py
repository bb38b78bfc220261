"""Diaspor TV on air in real time, one station for the module: the sequencer's live
playlists, served by the API, followed for about two minutes across several programme
boundaries by a viewer that fetches the 180p playlist and its segments as a player does and
decodes them (`tests/tv_viewer.py`), and at the same time played by hls.js in Debian's
Chromium. What the viewer decoded is held to what a viewer must get: no wait longer than a
segment, each programme from its first frame at its scheduled second, its own tone, sound on
picture within a frame across every discontinuity. The as-run log, now-playing and the
channel list follow the air."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Sequence
from urllib.parse import quote

import httpx
import numpy as np
import pytest

from media.binaries import Tools
from playout.asrun import AsRunLog
from tests.support import metric, need, need_program, scrape
from tests.tv_support import (
    EPISODE_S,
    EPISODES,
    FPS,
    FRAME_BITS,
    SEGMENT_S,
    TvStation,
    tv_on_air,
)
from tests.tv_viewer import RATE, Run, Viewer, Watched, decode, tone_onsets

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=120)]
WATCH_S = 100
FRAMES = EPISODE_S * FPS
MASK = (1 << FRAME_BITS) - 1
SYNC_S = 0.040  # sound against picture, at most: one frame
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
def viewer(tv: TvStation) -> Iterator[Viewer]:
    """A player on the 180p live playlist; started once, it watches while the other tests
    run."""
    v = Viewer(tv.master.rsplit("/", 1)[0] + "/180p.m3u8", WATCH_S)
    v.start()
    yield v
    v.stop()


@pytest.fixture(scope="module")
def watched(viewer: Viewer, tools: Tools, tmp_path_factory: pytest.TempPathFactory) -> Watched:
    """What the viewer saw, decoded once for the tests that judge it."""
    viewer.join(WATCH_S + 60)
    assert not viewer.is_alive(), "the viewer did not finish"
    assert not viewer.errors, viewer.errors
    assert viewer.seen, "the viewer saw no segment"
    return decode(tools, viewer, tmp_path_factory.mktemp("watched"))


def episode(run: Run) -> int | None:
    """The episode a run shows from end to end (None: slate, or a mixture)."""
    eps = set((run.codes >> FRAME_BITS).tolist())
    return eps.pop() if len(eps) == 1 and eps <= {1, 2, 3} else None


def programmes(w: Watched) -> list[tuple[Run, int]]:
    return [(r, e) for r in w.runs if (e := episode(r)) is not None]


def frame_span(run: Run) -> tuple[int, int]:
    """The frame numbers of a run's first and last frames."""
    return int(run.codes[0]) & MASK, int(run.codes[-1]) & MASK


def table(rows: Sequence[tuple[object, ...]]) -> str:
    return "\n".join("  ".join(f"{c}" for c in row) for row in rows)


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
    tv: TvStation, viewer: Viewer
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


def test_the_player_never_waits_longer_than_a_segment(watched: Watched) -> None:
    """Wall time minus content time, at the moment each segment is first listed, never grows
    by more than one segment over its lowest so far: the player never runs dry."""
    lag = [s.seen_s - s.content_s for s in watched.seen]
    growth = [x - min(lag[: i + 1]) for i, x in enumerate(lag)]
    rows = [
        (s.seg.seq, f"{s.seen_s:.2f}", f"{s.content_s:.2f}", f"{g:+.2f}")
        for s, g in zip(watched.seen, growth, strict=True)
    ]
    assert max(growth) <= SEGMENT_S, "seq, seen at, content at, growth:\n" + table(rows)
    content = watched.seen[-1].content_s - watched.seen[0].content_s
    assert content >= WATCH_S - 3 * SEGMENT_S - 2, table(rows)


def test_each_programme_begins_with_its_first_frame_at_its_scheduled_second(
    watched: Watched,
) -> None:
    progs = programmes(watched)
    rows = [
        (r.segments[0].seg.seq, r.segments[0].seg.pdt_ms, episode(r), *frame_span(r))
        for r in watched.runs
    ]
    assert len(progs) == len(watched.runs), "a run that is not one programme:\n" + table(rows)
    assert len(progs) >= 5, table(rows)
    for (a, ea), (b, eb) in itertools.pairwise(progs):
        assert eb == ea % 3 + 1, "programmes out of the schedule's order:\n" + table(rows)
        # The boundary: the last frame of one programme, then the first of the next ...
        assert frame_span(a)[1] == FRAMES - 1, table(rows)
        assert frame_span(b)[0] == 0, "the first frame after the boundary:\n" + table(rows)
        # ... where the schedule puts it (each starts at :00, :20 or :40 of a minute)
        assert b.segments[0].seg.pdt_ms % 60_000 == (eb - 1) * EPISODE_S * 1000, table(rows)
        if a.segments[0].seg.discontinuity:  # (a run the viewer joined in its middle
            # begins where its sound does, which may be before its picture)
            assert abs(b.video_s - a.end_s) < 1 / FPS / 2, table(rows)
    for r, _ in progs:  # every frame once, in order
        assert np.all(np.diff(r.codes) == 1), table(rows)


def test_each_programme_sounds_its_own_tone(watched: Watched) -> None:
    """In the sound a player decodes, each programme's span carries its episode's tone."""
    found = []
    for r, e in programmes(watched):
        hz = EPISODES[e - 1][2]
        sound = watched.sound_between(r.video_s + 0.1, r.end_s - 0.1).astype(np.float64)
        power = np.abs(np.fft.rfft(sound)) ** 2
        freqs = np.fft.rfftfreq(len(sound), 1 / RATE)
        near = np.abs(freqs - hz) <= 25
        share = float(power[near].sum() / max(power.sum(), 1e-12))
        found.append((e, hz, round(float(freqs[np.argmax(power)]), 1), round(share, 3)))
        assert np.sqrt(np.mean(sound**2)) > 0.01, f"programme {e} is silent: {found}"
    assert found and all(abs(peak - hz) <= 2 and share >= 0.8 for _, hz, peak, share in found), (
        f"(episode, its tone, strongest frequency, share of power near its tone): {found}"
    )


def test_sound_and_picture_stay_in_sync_across_every_discontinuity(watched: Watched) -> None:
    """Each second of a programme, its tone starts again on that second's first frame: in
    the player's timeline the two are within a frame of each other, in every programme
    (the first second of each is where the discontinuity is)."""
    onsets = tone_onsets(watched.sound)
    progs = programmes(watched)
    rows = []
    for r, e in progs:
        first = frame_span(r)[0]
        seconds: dict[int, float] = {}
        for t in onsets[(onsets >= r.video_s - 0.45) & (onsets < r.end_s - 0.45)]:
            k = round(first / FPS + (t - r.video_s))  # the programme's second it begins
            seconds[k] = float(t - (r.video_s + (k * FPS - first) / FPS))
        # (nor is a second whose tone starts in the run's last half second, or in the first
        # of a run the viewer joined in its middle or that opens what the player decoded:
        # no silence before it to start from)
        whole = r.segments[0].seg.discontinuity and r.video_s >= 0.1
        lo = 0 if whole else FPS / 2
        wanted = [k for k in range(EPISODE_S) if lo <= k * FPS - first <= len(r.codes) - FPS / 2]
        worst = max((abs(x) for x in seconds.values()), default=None)
        rows.append(
            (e, f"{r.video_s:.3f}", sorted(set(wanted) - set(seconds)), seconds.get(0), worst)
        )
        assert set(wanted) <= set(seconds), "tone onsets missing:\n" + table(rows)
        assert worst is not None and worst <= SYNC_S, (
            "(episode, first frame at, seconds without an onset, sound - picture at the "
            "boundary, worst):\n" + table(rows)
        )
    assert sum(1 for r, _ in progs if frame_span(r)[0] == 0) >= 4, table(rows)


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
    channels = httpx.get(f"{tv.base}/api/v1/channels").json()["items"]
    tv_channel = next(c for c in channels if c["slug"] == "diaspor-tv")
    assert tv_channel["kind"] == "tv"
    base = tv.station.settings.base_url  # how the station says players reach it
    assert tv_channel["streams"][0]["url"] == f"{base}/files/hls/tv/diaspor-tv/master.m3u8"
    assert tv_channel["streams"][0]["format"] == "hls"


def test_metrics_show_the_playlists_ahead_of_the_clock_and_each_programme_on_time(
    tv: TvStation,
) -> None:
    """The operator's view of the same air (the API's /metrics, in the process that plays):
    the live playlists reach past now by at most the hold-back of three target durations,
    and every item after the first (which playout may have joined late) began at its
    scheduled instant."""
    told = scrape(f"{tv.base}/metrics")
    lag = metric(told, "diaspor_tv_playlist_lag_seconds", channel="diaspor-tv")
    assert lag is not None and -3 * SEGMENT_S - 0.01 <= lag < 0, lag
    offsets = "diaspor_boundary_offset_seconds"
    count = metric(told, f"{offsets}_count", channel="diaspor-tv") or 0
    on_time = (metric(told, f"{offsets}_bucket", channel="diaspor-tv", le="0.005") or 0) - (
        metric(told, f"{offsets}_bucket", channel="diaspor-tv", le="-0.005") or 0
    )
    assert count >= 4 and on_time >= count - 1, (count, on_time)
    assert metric(told, "diaspor_part_up", part="diaspor-tv/sequencer", channel="diaspor-tv") == 1
