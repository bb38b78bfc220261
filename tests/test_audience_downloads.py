"""Podcast downloads in the audience ledger, counted as the IAB's podcast measurement
guidelines count them: a podcast app's range requests for an episode's enclosure merged per
listener and day, counted once at least a minute of audio has gone out, robots never, and the
same listener again the next day a new download."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from lxml import etree
from sqlalchemy import select

from audience.models import SessionRow
from tests.schedule_support import Desk, build_radio_week

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=15)]

BAKU, BERLIN, TORONTO, ISTANBUL = "85.132.1.1", "80.130.1.1", "99.230.1.1", "88.230.1.1"
APPLE_PODCASTS = "Podcasts/1555.2.1 CFNetwork/1410.0.3 Darwin/22.6.0"
OVERCAST = "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def downloads(desk: Desk) -> list[SessionRow]:
    with desk.station.db.session() as s:
        rows = s.execute(select(SessionRow).where(SessionRow.surface == "podcast"))
        return list(rows.scalars())


def fetch(desk: Desk, path: str, address: str, agent: str, span: str | None = None) -> int:
    headers = {"X-Forwarded-For": address, "User-Agent": agent}
    if span is not None:
        headers["Range"] = f"bytes={span}"
    r = httpx.get(f"{desk.client.base_url}{path}", headers=headers, timeout=10)
    assert r.status_code == (206 if span else 200), r.text
    return len(r.content)


def settled(desk: Desk, n: int) -> list[SessionRow]:
    """The downloads, once `n` are in (the ledger is written after the answers) and a
    moment has passed for any more to show."""
    deadline = time.monotonic() + 10
    while len(found := downloads(desk)) < n:
        assert time.monotonic() < deadline, f"{len(found)} downloads, not {n}"
        time.sleep(0.05)
    time.sleep(0.3)
    return downloads(desk)


def test_a_podcast_download_is_counted_once_per_listener_and_day_after_a_minute(
    desk: Desk,
) -> None:
    week = build_radio_week(desk)  # the 90-second show airs on Sunday; now is Thursday
    desk.clock.advance(3 * 86_400)
    feed = desk.client.get("/api/v1/programmes/veten-uzaqda-deyil/podcast.xml")
    enclosure = etree.fromstring(feed.content).find("channel/item/enclosure")
    path, size = urlsplit(enclosure.get("url")).path, int(enclosure.get("length"))
    minute = size * 60 // 90  # a minute of this 90-second file's bytes

    # Apple Podcasts probes two bytes, then fetches in two ranges: counted once the second
    # brings it past a minute.
    assert fetch(desk, path, BAKU, APPLE_PODCASTS, "0-1") == 2
    half = size // 2
    fetch(desk, path, BAKU, APPLE_PODCASTS, f"0-{half - 1}")
    time.sleep(0.5)
    assert downloads(desk) == []  # 45 s of audio so far: not yet a download
    fetch(desk, path, BAKU, APPLE_PODCASTS, f"{half}-")
    [baku] = settled(desk, 1)
    assert (baku.episode_id, baku.country, baku.bytes) == (week["episode"]["id"], "AZ", size)
    assert baku.seconds == 90 and baku.ended_at is not None
    # The same listener again that day: the same download.
    fetch(desk, path, BAKU, APPLE_PODCASTS)
    # Overlapping ranges short of a minute, from Berlin: the overlap counts once, not a download.
    fetch(desk, path, BERLIN, OVERCAST, f"0-{minute // 2}")
    fetch(desk, path, BERLIN, OVERCAST, f"0-{minute // 2 + 1000}")
    # A crawler fetching the whole file is no listener.
    fetch(desk, path, ISTANBUL, GOOGLEBOT)
    # Toronto takes it whole at once.
    fetch(desk, path, TORONTO, OVERCAST)
    found = settled(desk, 2)
    assert sorted(r.country for r in found) == ["AZ", "CA"]
    # Baku the next day: another download.
    desk.clock.advance(86_400)
    fetch(desk, path, BAKU, APPLE_PODCASTS)
    found = settled(desk, 3)
    assert sorted(r.country for r in found) == ["AZ", "AZ", "CA"]
    days = sorted(r.started_at.date() for r in found if r.country == "AZ")
    assert days[1] - days[0] == timedelta(days=1)
    assert len({r.source_key for r in found}) == 3
