"""Guides for other software: XMLTV valid against its DTD, M3U and iCalendar read back by
third-party parsers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from icalendar import Calendar
from lxml import etree

from schedules.epg import ChannelInfo, Stream, m3u
from tests.schedule_support import Desk, build_radio_week
from tests.support import XMLTV_DTD as DTD
from tests.support import need


@pytest.fixture
def stations(desk: Desk) -> Iterator[Desk]:
    """Diaspor.FM's week, and Diaspor TV showing the programme daily at 21:00."""
    d = desk
    build_radio_week(d)
    tv = d.post(
        "channels",
        {
            "slug": "diaspor-tv",
            "kind": "tv",
            "names": {"az": "Diaspor TV", "en": "Diaspor TV"},
            "logo_url": "http://cdn.example/diaspor-tv.png",
            "streams": [{"url": "http://cdn.example/tv/master.m3u8", "format": "hls"}],
        },
    )
    programme = d.client.get("/api/v1/manage/programmes").json()["items"][0]
    d.post(
        "entries",
        {
            "channel_id": tv["id"],
            "target_type": "programme",
            "target_id": programme["id"],
            "start_local": "2026-11-26T21:00:00",
            "rrule": "FREQ=DAILY",
        },
    )
    yield d


def test_the_xmltv_guide_is_valid_and_lists_both_channels_in_every_language(stations: Desk) -> None:
    need(DTD.is_file(), "the XMLTV DTD comes with Debian's xmltv-util (apt-get install xmltv-util)")
    r = stations.client.get("/epg.xml", params={"days": 2})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    doc = etree.fromstring(r.content)
    dtd = etree.DTD(str(DTD))
    assert dtd.validate(doc), dtd.error_log.filter_from_errors()
    channels = {c.get("id"): c for c in doc.findall("channel")}
    assert set(channels) == {"diaspor-fm", "diaspor-tv"}
    names = {n.get("lang"): n.text for n in channels["diaspor-fm"].findall("display-name")}
    assert names == {"az": "Diaspor.FM", "en": "Diaspor.FM", "ru": "Диаспор.FM"}
    assert channels["diaspor-tv"].find("icon").get("src") == "http://cdn.example/diaspor-tv.png"
    progs = doc.findall("programme")
    radio = [p for p in progs if p.get("channel") == "diaspor-fm"]
    # Scheduled at noon today: the music clock joins at 12:02 (the end of the freeze horizon),
    # then runs hour by hour; tomorrow is 24 hours of it.
    assert [p.get("start") for p in radio[:3]] == [
        "20261126000000 +0400",
        "20261126120200 +0400",
        "20261126130000 +0400",
    ]
    assert len([p for p in radio if p.get("start").startswith("20261127")]) == 24
    tv = [p for p in progs if p.get("channel") == "diaspor-tv"]
    show = next(p for p in tv if p.get("start") == "20261126210000 +0400")
    titles = {t.get("lang"): t.text for t in show.findall("title")}
    assert titles == {
        "az": "Vətən uzaqda deyil",
        "en": "Homeland Is Not Far",
        "ru": "Родина недалеко",
    }
    assert {e.get("system"): e.text for e in show.findall("episode-num")} == {
        "onscreen": "S1 E3",
        "xmltv_ns": "0.2.",
    }
    assert [c.text for c in show.findall("category")] == ["Documentary"]


def test_the_m3u_channel_list_reads_back_in_an_iptv_parser(stations: Desk, tmp_path: Path) -> None:
    r = stations.client.get("/channels.m3u", params={"lang": "ru"})
    assert r.status_code == 200
    first = r.text.splitlines()[0]
    assert (
        first.startswith("#EXTM3U")
        and f'url-tvg="{stations.station.settings.base_url}/epg.xml"' in first
    )
    path = tmp_path / "channels.m3u"
    path.write_text(r.text, encoding="utf-8")
    # In a process of its own: the parser leaves an event loop open behind it.
    script = (
        "import json, sys; from m3u_parser import M3uParser; p = M3uParser(timeout=1); "
        "p.parse_m3u(sys.argv[1], check_live=False); print(json.dumps(p.get_list()))"
    )
    res = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    got = {c["tvg"]["id"]: c for c in json.loads(res.stdout.splitlines()[-1])}
    assert set(got) == {"diaspor-fm", "diaspor-tv"}
    assert got["diaspor-fm"]["url"] == "http://radio.example/diaspor.mp3"
    assert got["diaspor-fm"]["name"] == "Диаспор.FM" and got["diaspor-fm"]["category"] == "Radio"
    assert got["diaspor-tv"]["logo"] == "http://cdn.example/diaspor-tv.png"
    assert got["diaspor-tv"]["category"] == "TV"


def test_each_m3u_line_names_its_stream_and_the_rate_where_a_format_comes_twice() -> None:
    radio = ChannelInfo(
        "diaspor-fm",
        "radio",
        {"az": "Diaspor.FM"},
        {},
        "Asia/Baku",
        streams=(
            Stream("http://r/diaspor-fm.mp3", "mp3", 128),
            Stream("http://r/diaspor-fm.aac", "aac", 128),
            Stream("http://r/diaspor-fm-64.aac", "aac", 64),
            Stream("http://f/master.m3u8", "hls", 128),
        ),
    )
    text = m3u([radio], epg_url="http://x/epg.xml", lang="az")
    labels = [line.rsplit(",", 1)[1] for line in text.splitlines() if line.startswith("#EXTINF")]
    assert labels == [
        "Diaspor.FM (mp3)",
        "Diaspor.FM (aac 128 kbit/s)",
        "Diaspor.FM (aac 64 kbit/s)",
        "Diaspor.FM (hls)",
    ]


def test_icalendar_feeds_read_back_with_the_programme_at_its_time(stations: Desk) -> None:
    r = stations.client.get(
        "/api/v1/channels/diaspor-fm/schedule.ics", params={"days": 7, "lang": "en"}
    )
    assert r.headers["content-type"].startswith("text/calendar")
    cal = Calendar.from_ical(r.content)
    events = [e for e in cal.walk("VEVENT")]
    show = [e for e in events if str(e["SUMMARY"]).startswith("Homeland Is Not Far")]
    assert len(show) == 1
    assert show[0].decoded("DTSTART") == datetime(2026, 11, 29, 16, 0, tzinfo=UTC)
    assert str(show[0]["SUMMARY"]) == "Homeland Is Not Far — Berlin"
    assert len({str(e["UID"]) for e in events}) == len(events)  # stable and unique
    again = Calendar.from_ical(
        stations.client.get(
            "/api/v1/channels/diaspor-fm/schedule.ics", params={"days": 7, "lang": "en"}
        ).content
    )
    assert [str(e["UID"]) for e in again.walk("VEVENT")] == [str(e["UID"]) for e in events]

    prog = stations.client.get("/api/v1/programmes/veten-uzaqda-deyil/schedule.ics")
    airings = [e.decoded("DTSTART") for e in Calendar.from_ical(prog.content).walk("VEVENT")]
    # Daily at 21:00 on TV for two weeks, and once on the radio on the last Sunday.
    assert datetime(2026, 11, 29, 16, 0, tzinfo=UTC) in airings
    assert datetime(2026, 11, 26, 17, 0, tzinfo=UTC) in airings
    assert len(airings) == 15
