"""Title timing where the listener is: `diaspor playout` on the built-in relay and, at the
same time, a second station on icecast2; two songs of their own tones alternate with 3 s
crossfades. On each server a listener reads the MP3 mount, one the AAC mount and one the
low-bitrate AAC mount (ICY); on the relay's station a player follows each rung of the HLS
audio ladder its master playlist lists, and now-playing's Server-Sent Events. For every
change of song heard in the decoded audio, the title must change within a second of it
(before or after): in the ICY stream by audio bytes, and for the events by the wall clock
against the HLS program-date-time of the change. The two rungs must be the same segments at
the same dates, so that a player switching between them hears no jump.

DIASPOR_TEST_AIR_S sets how long they listen (66 s here: about ten changes per
listener); `bench/radio.py` listens ten minutes and prints the distribution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from media.binaries import Tools
from tests.air_check import MOUNTS, WITHIN_S, Timing, decode, master_variants, title_timings

pytestmark = [pytest.mark.slow, pytest.mark.icecast, pytest.mark.runs(seconds=75)]
AIR_S = float(os.environ.get("DIASPOR_TEST_AIR_S", "66"))


def late_or_unnamed(timings: list[Timing]) -> list[Timing]:
    return [t for t in timings if t.offset_s is None or abs(t.offset_s) > WITHIN_S]


def test_the_title_changes_within_a_second_of_the_music_at_every_listener(
    tmp_path: Path, tools: Tools
) -> None:
    heard = title_timings(tmp_path, tools, AIR_S)
    assert len(heard.timings) == 2 * len(MOUNTS) + 2  # every listener and both rungs
    wanted = AIR_S / 6 - 5  # a change every 6 s, less the margins and the HLS player's lag
    for name, timings in heard.timings.items():
        assert len(timings) >= wanted, (name, len(timings), timings)
        assert not late_or_unnamed(timings), (name, [t.offset_s for t in timings])

    # The master lists the low rung, then the channel's, both AAC-LC audio.
    variants = master_variants(heard.master)
    assert [uri for _, uri in variants] == ["index-64.m3u8", "index.m3u8"]
    assert [a["CODECS"] for a, _ in variants] == ["mp4a.40.2", "mp4a.40.2"]
    low_bw, top_bw = (int(a["BANDWIDTH"]) for a, _ in variants)
    assert 64_000 < low_bw < top_bw
    # Segment n of one rung is segment n of the other: the same date, duration and audio
    # length (each decoded alone), and the low rung is the lighter.
    low = {seg.number: seg for seg in heard.hls["index-64.m3u8"].segments}
    top = {seg.number: seg for seg in heard.hls["index.m3u8"].segments}
    both = sorted(low.keys() & top.keys())
    assert len(both) >= AIR_S / 6 - 2, (sorted(low), sorted(top))
    for n in both:
        assert (low[n].pdt, low[n].duration) == (top[n].pdt, top[n].duration), n
        assert len(decode(tools.ffmpeg, low[n].data)) == len(decode(tools.ffmpeg, top[n].data))
        assert len(low[n].data) < 0.8 * len(top[n].data), n
