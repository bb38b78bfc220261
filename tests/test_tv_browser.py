"""Diaspor TV in a browser: headless Chromium (Debian's) with the vendored hls.js plays the
linear channel across a programme boundary, its clock advancing, with no fatal error."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from media.binaries import Tools
from tests.support import need, need_program
from tests.tv_support import EPISODES, tv_on_air

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# The average colour of the picture on screen, drawn into a canvas.
COLOUR_JS = """() => {
  const v = document.getElementById('video');
  const c = document.createElement('canvas'); c.width = 8; c.height = 8;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0, 8, 8);
  const d = g.getImageData(0, 0, 8, 8).data; let r = 0, gr = 0, b = 0;
  for (let i = 0; i < d.length; i += 4) { r += d[i]; gr += d[i + 1]; b += d[i + 2]; }
  return [r, gr, b];
}"""


def test_hls_js_in_chromium_plays_the_channel_across_a_programme_boundary(
    tmp_path: Path, tools: Tools
) -> None:
    chromium = need_program("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - a test dependency
        need(False, "playwright is not installed (pip install -e .[test])")
        raise
    with tv_on_air(tmp_path, tools) as tv:
        deadline = time.monotonic() + 60
        while httpx.get(tv.master, timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "the master playlist never appeared"
            time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=chromium,
                args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
            )
            try:
                page = browser.new_page()
                page.goto(f"{tv.base}/static/tv.html?src={quote(tv.master, safe='')}")
                samples: list[tuple[float, str]] = []
                end = time.monotonic() + 50  # more than two programmes of 20 s
                while time.monotonic() < end:
                    state = page.evaluate(
                        "() => [document.getElementById('video').currentTime,"
                        " window.player.fatal, window.player.errors]"
                    )
                    assert state[1] is None, f"hls.js fatal error: {state[1]} {state[2]}"
                    if state[0] > 0:
                        samples.append((state[0], colour(page.evaluate(COLOUR_JS))))
                    time.sleep(1)
            finally:
                browser.close()
    assert samples, "the video never started"
    times = [t for t, _ in samples]
    assert times[-1] - times[0] > 35  # currentTime advanced with the wall clock
    assert all(b >= a for a, b in itertools.pairwise(times))
    seen = [c for _, c in samples]
    changes = [(a, b) for a, b in itertools.pairwise(seen) if a != b]
    order = [c for _, c, _ in EPISODES]
    assert changes, f"no programme boundary was crossed: {seen}"
    for a, b in changes:  # each boundary to the next programme of the schedule
        assert order[(order.index(a) + 1) % 3] == b, seen


def colour(rgb: list[int]) -> str:
    return ("red", "green", "blue")[max(range(3), key=lambda i: rgb[i])]
