"""The relay's admin answers without sockets: the title an update names and the status
document, shaped as icecast2's."""

from __future__ import annotations

from datetime import UTC, datetime

from streamer.relay_admin import status_json, title_from_params
from streamer.relay_http import StreamInfo
from streamer.relay_mount import MountStatus

AZ_TITLE = "Aşıq Ələsgər - Vətən ğışçöü"


def test_a_title_is_the_song_or_artist_and_title_joined() -> None:
    assert title_from_params({"song": AZ_TITLE}) == AZ_TITLE
    assert title_from_params({"artist": "Aşıq Ələsgər", "title": "Vətən"}) == "Aşıq Ələsgər - Vətən"
    assert title_from_params({"mode": "updinfo"}) is None


def test_status_json_has_icecast2s_shape_with_source_always_a_list() -> None:
    start = datetime(2026, 5, 28, 8, 0, tzinfo=UTC)
    live = MountStatus(
        "/live.mp3", True, 3, 5, 1, StreamInfo(name="Diaspor.FM"), AZ_TITLE, start, 9
    )
    waiting = MountStatus("/old.mp3", False, 1, 1, 0, StreamInfo(), "", start, 0)
    doc = status_json(
        [live, waiting],
        base_url="http://radio.example:8000",
        admin="admin@diaspor.fm",
        host="radio.example",
        location="Bakı",
        server_start=start,
    )
    stats = doc["icestats"]
    assert stats["server_id"] == "Diaspor relay" and stats["location"] == "Bakı"
    [source] = stats["source"]
    assert source["listenurl"] == "http://radio.example:8000/live.mp3"
    assert (source["listeners"], source["listener_peak"], source["title"]) == (3, 5, AZ_TITLE)
    assert source["server_name"] == "Diaspor.FM" and source["server_type"] == "audio/mpeg"
    assert source["stream_start_iso8601"] == "2026-05-28T08:00:00+0000"
    empty = status_json([], base_url="", admin="", host="", location="", server_start=start)
    assert empty["icestats"]["source"] == []
