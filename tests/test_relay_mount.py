"""A relay mount's pure part: where the burst a new listener gets begins."""

from __future__ import annotations

from streamer.relay_mount import burst_start


def test_a_burst_starts_on_a_frame_header_for_mp3_and_aac_only() -> None:
    data = b"\x12\xff\x12\x00\xff\xfb\x90\x00rest"
    assert burst_start(data, "audio/mpeg") == 4
    assert burst_start(b"\x00\xff\xe0\xff\xf1\x50", "audio/aac") == 3
    assert burst_start(data, "application/ogg") == 0
    assert burst_start(b"no sync at all", "audio/mpeg") == 0
