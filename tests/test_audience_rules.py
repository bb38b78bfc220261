"""The audience's rules without a server: which channel a playlist or a mount is, what a
media playlist says of its segments, how overlapping ranges are counted, who is a robot, whom
icecast2's forwarded address is believed from, and what a log line may say of an address."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from api.proxies import client_behind
from api.routes.audience import channel_of_mount
from audience.downloads import is_robot, may_be_enclosure, merged
from audience.hls import Listing, channel_of, read_playlist
from audience.ledger import Surface
from station.logs import address_tag
from station.settings import Settings


def test_live_playlists_name_their_channel_packages_their_asset_and_nothing_else_does() -> None:
    assert channel_of("hls/radio/diaspor-fm/master.m3u8") == (Surface.RADIO_HLS, "diaspor-fm")
    assert channel_of("hls/tv/diaspor-tv/720p.m3u8") == (Surface.TV_HLS, "diaspor-tv")
    assert channel_of("hls/assets/7/abc/master.m3u8") == (Surface.VOD, "asset:7")
    for key in ("hls/assets/x/abc/a.m3u8", "hls/radio/x", "media/a.mp3", "hls/tv//a"):
        assert channel_of(key) is None, key


def test_a_tv_playlists_segments_are_known_by_where_they_are_stored() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXT-X-DISCONTINUITY\n"
        "#EXTINF:5.760,\n../../assets/7/c0ffee/360p/seg_00001.ts\n"
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-04T12:00:05.760Z\n"
        "#EXTINF:2.000,\n../../slate/diaspor-tv/360p/slate_00000.ts?v=2\n"
        "#EXT-X-ENDLIST\n"
    )
    listing = read_playlist("hls/tv/diaspor-tv/360p.m3u8", text)
    assert listing.target_s == 6
    assert listing.segments == (
        ("hls/assets/7/c0ffee/360p/seg_00001.ts", 5760),
        ("hls/slate/diaspor-tv/360p/slate_00000.ts", 2000),
    )
    broken = "#EXTM3U\n#EXT-X-TARGETDURATION:six\n#EXTINF:nan,\na.ts\n#EXTINF:4,\nb.ts\n"
    assert read_playlist("hls/tv/t/p.m3u8", broken) == Listing(0, (("hls/tv/t/b.ts", 4000),))
    master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=128000\n128k.m3u8\n"
    assert read_playlist("hls/radio/diaspor-fm/master.m3u8", master).segments == ()


def test_a_mount_names_its_channel() -> None:
    assert channel_of_mount("/diaspor-fm.mp3") == "diaspor-fm"
    assert channel_of_mount("/diaspor-fm-64.aac") == "diaspor-fm"
    assert channel_of_mount("/diaspor-fm.aac?token=x") == "diaspor-fm"
    assert channel_of_mount("/diaspor-fm-live") is None


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(0, 100)), max_size=20))
def test_merged_ranges_count_each_byte_once(spans: list[tuple[int, int]]) -> None:
    half_open = [(a, a + n) for a, n in spans]
    covered = set().union(*(range(a, b) for a, b in half_open)) if half_open else set()
    assert merged(half_open) == len(covered)


def test_robots_are_not_listeners_and_pictures_are_not_enclosures() -> None:
    assert is_robot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert is_robot("facebookexternalhit/1.1")
    assert not is_robot("Podcasts/1555.2.1 CFNetwork/1410.0.3 Darwin/22.6.0")
    assert not is_robot("AppleCoreMedia/1.0.0.21A329 (iPhone; U; CPU OS 17_0 like Mac OS X)")
    assert may_be_enclosure("originals/ab/show.mp3")
    assert may_be_enclosure("hls/assets/7/c0ffee/audio.m4a")
    for key in ("hls/radio/diaspor-fm/128k_00001.aac", "artwork/x.jpg", "hls/assets/7/c/a.ts"):
        assert not may_be_enclosure(key), key


def test_icecast2s_forwarded_address_is_believed_from_a_trusted_proxy_only() -> None:
    s = Settings(trusted_proxies="172.30.251.10")
    assert client_behind(s, "172.30.251.10", "85.132.1.1") == "85.132.1.1"
    assert client_behind(s, "172.30.251.10", "10.0.0.1, 85.132.1.1") == "85.132.1.1"
    assert client_behind(s, "203.0.113.9", "85.132.1.1") == "203.0.113.9"  # said by anyone
    assert client_behind(s, "172.30.251.10", "") == "172.30.251.10"


def test_a_log_line_tags_an_address_and_never_shows_it() -> None:
    tag = address_tag("85.132.1.1")
    assert re.fullmatch("[0-9a-f]{8}", tag)
    assert tag == address_tag("85.132.1.1") != address_tag("85.132.1.2")
