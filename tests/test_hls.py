"""HLS text for packaged assets."""

from __future__ import annotations

from media import hls


def test_a_media_playlist_is_vod_with_exact_durations() -> None:
    text = hls.vod_playlist(["seg-00000.ts", "seg-00001.ts"], [6000, 1520], 6)
    assert text.splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:6",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXTINF:6.000,",
        "seg-00000.ts",
        "#EXTINF:1.520,",
        "seg-00001.ts",
        "#EXT-X-ENDLIST",
    ]
