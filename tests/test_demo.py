"""`diaspor demo`, the README's run command: one process, demo content, the API answering."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from lxml import etree

from diaspor.compose import Station
from diaspor.demo import console_users, print_banner
from media.binaries import Tools
from station.settings import Settings
from tests.conftest import env_for
from tests.support import XMLTV_DTD as DTD
from tests.support import free_port, interrupt, wait_until_healthy

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=110)]


@contextmanager
def demo(data_dir: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = env_for(Settings(data_dir=data_dir))
    for k in ("DIASPOR_DATA_DIR", "DIASPOR_DATABASE_URL", "DIASPOR_STORAGE_DIR"):
        env.pop(k)  # as a newcomer runs it: only --data-dir
    env["DIASPOR_RELAY_PORT"] = str(free_port())
    proc = subprocess.Popen(
        [sys.executable, "-m", "diaspor", "demo", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, base, 240)
        yield base, proc
    finally:
        interrupt(proc)


def first_icy_title(url: str) -> str:
    """Listen like a classic ICY player until the first StreamTitle arrives."""
    from streamer.icy import IcyReader

    deadline = time.monotonic() + 30
    with httpx.stream("GET", url, headers={"Icy-MetaData": "1"}, timeout=10) as r:
        icy = IcyReader(int(r.headers["icy-metaint"]))
        for chunk in r.iter_raw():
            titles = icy.feed(chunk).titles
            if titles:
                return titles[0]
            assert time.monotonic() < deadline, "no title within 30 s"
    raise AssertionError("the stream ended")


def wait_until_analysed(client: httpx.Client, n: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 240
    while True:
        items = client.get("/api/v1/media", params={"limit": 200}).json()["items"]
        if len(items) == n and all(m["status"] != "pending" for m in items):
            return list(items)
        assert time.monotonic() < deadline, f"analysis did not finish: {items}"
        time.sleep(1)


def test_the_demo_station_comes_up_with_a_catalogue_a_newcomer_can_explore(
    tmp_path: Path, tools: Tools
) -> None:
    data = tmp_path / "demo"
    with demo(data) as (base, proc):
        token = (data / "admin-token").read_text().strip()
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c:
            assert c.get("/health").json()["database"] == "sqlite"
            items = wait_until_analysed(c, 13)
            assert all(m["status"] == "ready" for m in items), items
            kinds = Counter(str(m["kind"]) for m in items)
            assert kinds == {"music": 6, "speech": 1, "jingle": 2, "filler": 1, "programme": 3}
            episodes = [m for m in items if m["kind"] == "programme"]
            for ep in episodes:
                assert str(ep["title"]).startswith("Vətən uzaqda deyil")
                assert set(ep["titles"]) == {"az", "en", "ru"}  # type: ignore[arg-type]
                assert [s["lang"] for s in ep["subtitles"]] == ["az", "en", "ru"]  # type: ignore[attr-defined]
                assert ep["artwork_url"] and ep["width"] == 1280
            music = [m for m in items if m["kind"] == "music"]
            assert all(m["loudness_lufs"] is not None and m["cue_in_ms"] > 0 for m in music)
            assert c.get("/openapi.json").json()["info"]["title"].startswith("Diaspor")
            # Both channels are on the schedule, and the guide validates as XMLTV.
            channels = c.get("/api/v1/channels").json()["items"]
            assert [(ch["slug"], ch["kind"]) for ch in channels] == [
                ("diaspor-fm", "radio"),
                ("diaspor-tv", "tv"),
            ]
            # (two days: late in the Baku day, today alone holds only its last minutes)
            epg = etree.fromstring(c.get("/epg.xml", params={"days": 2}).content)
            if DTD.is_file():
                dtd = etree.DTD(str(DTD))
                assert dtd.validate(epg), dtd.error_log.filter_from_errors()
            progs = epg.findall("programme")
            assert {p.get("channel") for p in progs} == {"diaspor-fm", "diaspor-tv"}
            # Diaspor.FM is on air: MP3, AAC and AAC for phones on the relay, HLS audio (a
            # master over two rungs), with titles.
            radio = next(ch for ch in channels if ch["slug"] == "diaspor-fm")
            urls = {st["format"]: st["url"] for st in radio["streams"]}
            assert set(urls) == {"mp3", "aac", "hls"}
            assert [(st["format"], st["bitrate"]) for st in radio["streams"]] == [
                ("mp3", 128),
                ("aac", 128),
                ("aac", 64),
                ("hls", 128),
            ]
            title = first_icy_title(urls["mp3"])
            assert " - " in title and title.split(" - ", 1)[1] in {str(m["title"]) for m in items}
            # Now playing: JSON, the first Server-Sent Event, and the static file for CDNs.
            np = c.get("/api/v1/channels/diaspor-fm/now-playing").json()
            assert np["current"]["title"] and np["next"]
            with c.stream("GET", "/api/v1/channels/diaspor-fm/now-playing/events") as events:
                assert events.headers["content-type"].startswith("text/event-stream")
                lines = []
                for line in events.iter_lines():
                    lines.append(line)
                    if line.startswith("data:"):
                        break
            assert lines[1] == "event: now-playing"
            static = c.get("/files/nowplaying/diaspor-fm.json")
            assert static.status_code == 200 and static.json()["channel"] == "diaspor-fm"
            assert static.headers["cache-control"] == "public, max-age=1", static.headers
            for _ in range(60):  # the first segments are written after their 6 seconds
                hls = c.get(httpx.URL(urls["hls"]).path)
                if hls.status_code == 200:
                    break
                time.sleep(0.5)
            assert hls.status_code == 200 and hls.text.count("#EXT-X-STREAM-INF") == 2
            for rung in ("index-64.m3u8", "index.m3u8"):
                media = c.get(httpx.URL(urls["hls"]).path.replace("master.m3u8", rung))
                assert rung in hls.text and "#EXTINF" in media.text
            tv = [p for p in progs if p.get("channel") == "diaspor-tv"]
            assert len(tv) > 100  # a day of episodes, back to back
            assert all(p.findtext("title") == "Vətən uzaqda deyil" for p in tv[1:])
            # Diaspor TV: its HLS master is listed, and a player can read and decode it.
            for _ in range(120):  # the slate is packaged on first start, then it is on air
                tv_channel = c.get("/api/v1/channels/diaspor-tv").json()
                if any(s["format"] == "hls" for s in tv_channel["streams"]):
                    break
                time.sleep(0.5)
            master = next(s["url"] for s in tv_channel["streams"] if s["format"] == "hls")
            assert master.endswith("/files/hls/tv/diaspor-tv/master.m3u8")
            for _ in range(120):
                if c.get(httpx.URL(master).path).status_code == 200:
                    break
                time.sleep(0.5)
            assert "#EXT-X-STREAM-INF" in c.get(httpx.URL(master).path).text
            # A player re-bases its clock at every EXT-X-DISCONTINUITY (each item and each
            # slate piece starts its own timestamps); ffmpeg does so with a zero threshold.
            watched = subprocess.run(
                [
                    tools.ffmpeg,
                    "-v",
                    "error",
                    "-dts_delta_threshold",
                    "0",
                    "-i",
                    master,
                    "-t",
                    "8",
                    "-f",
                    "null",
                    "-",
                ],
                capture_output=True,
                text=True,
                timeout=90,
            )
            assert watched.returncode == 0 and not watched.stderr, watched.stderr
            assert c.get("/api/v1/programmes/veten-uzaqda-deyil").status_code == 200
            # On air, the channels' status is in storage for API processes elsewhere.
            assert {p.name for p in (data / "storage" / "onair").iterdir()} == {
                "diaspor-fm.json",
                "diaspor-tv.json",
            }
        proc.send_signal(signal.SIGINT)
        assert proc.wait(20) == 0  # a clean stop on Ctrl-C
    assert not list((data / "storage" / "onair").iterdir())  # off air: no status left behind
    made = {p.name: p.stat().st_mtime_ns for p in (data / "demo-source").iterdir()}

    # A second start finds its catalogue: nothing is made or imported twice.
    with (
        demo(data) as (base, _proc),
        httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as c,
    ):
        assert len(c.get("/api/v1/media", params={"limit": 200}).json()["items"]) == 13
    assert {p.name: p.stat().st_mtime_ns for p in (data / "demo-source").iterdir()} == made


def test_the_demo_makes_console_users_once_and_its_banner_shows_the_console_first(
    station: Station, capsys: pytest.CaptureFixture[str]
) -> None:
    users = console_users(station)
    assert [(u, role) for u, role, _ in users] == [("editor", "editor"), ("admin", "admin")]
    for username, role, password in users:
        signed_in = station.users.authenticate(username, password)
        assert signed_in is not None and signed_in.role == role
    kept = station.settings.data_dir / "console-users.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert console_users(station) == users  # a second start: the same users, not new ones

    print_banner(station.settings, "dsp_token", users)
    lines = [line.strip() for line in capsys.readouterr().out.splitlines() if line.strip()]
    base = station.settings.base_url
    assert lines[1] == f"web player     {base}/"
    assert lines[2].startswith(f"console        {base}/console")
    assert lines[3] == f"editor / {users[0][2]}   (editor)"
    assert lines[4] == f"admin / {users[1][2]}   (admin)"
