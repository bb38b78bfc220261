"""Title timing where the listener is: `diaspor playout` on the built-in relay and, at the
same time, a second station on icecast2; two songs of their own tones alternate with 3 s
crossfades. On each server a listener reads the MP3 mount and one the AAC mount (ICY); on the
relay's station a player follows the HLS audio and now-playing's Server-Sent Events. For
every change of song heard in the decoded audio, the title must change within a second of it
(before or after): in the ICY stream by audio bytes, and for the events by the wall clock
against the HLS program-date-time of the change.

DIASPOR_TEST_AIR_S sets how long they listen (66 s here: about ten changes per
listener); `bench/radio.py` listens ten minutes and prints the distribution."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from media.binaries import Tools
from tests.air_check import WITHIN_S, Timing, title_timings

pytestmark = [pytest.mark.slow, pytest.mark.icecast, pytest.mark.runs(seconds=75)]
AIR_S = float(os.environ.get("DIASPOR_TEST_AIR_S", "66"))


def late_or_unnamed(timings: list[Timing]) -> list[Timing]:
    return [t for t in timings if t.offset_s is None or abs(t.offset_s) > WITHIN_S]


def test_the_title_changes_within_a_second_of_the_music_at_every_listener(
    tmp_path: Path, tools: Tools
) -> None:
    report = title_timings(tmp_path, tools, AIR_S)
    wanted = AIR_S / 6 - 5  # a change every 6 s, less the margins and the HLS player's lag
    for name, timings in report.items():
        assert len(timings) >= wanted, (name, len(timings), timings)
        assert not late_or_unnamed(timings), (name, [t.offset_s for t in timings])
