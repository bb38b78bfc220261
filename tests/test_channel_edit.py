"""An editor changes a channel's loudness target while it is on air: the next items are heard
at the new level, without a restart (playout re-reads the channel's settings from the
schedule)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from media.binaries import Tools
from tests.faults_support import RadioListener
from tests.radio_support import Playout, music_station
from tests.support import free_port

pytestmark = pytest.mark.slow


def level(listener: RadioListener, seconds: float) -> float:
    """The median peak level (dBFS) of the last `seconds` heard."""
    n = int(seconds * 1000 / listener.block_ms)
    return statistics.median(listener.blocks[-n:])


def test_a_new_loudness_target_is_heard_from_the_next_items(tmp_path: Path, tools: Tools) -> None:
    st = music_station(tmp_path, tools, relay_port=free_port())
    channel = st.schedules.channel("diaspor-fm")
    assert channel.data["loudness_target_lufs"] == -16.0
    playout = Playout(st)
    listener = RadioListener(
        tools.ffmpeg, f"http://127.0.0.1:{st.settings.relay_port}/diaspor-fm.mp3"
    )
    try:
        deadline = time.monotonic() + 30
        while not listener.blocks and time.monotonic() < deadline:
            listener.stop()
            time.sleep(1)
            listener.start()
            time.sleep(1.5)
        time.sleep(8)
        before = level(listener, 4)
        st.schedules.update(
            "channel", channel.id, channel.version, {"loudness_target_lufs": -26.0}, "editor"
        )
        # Read again within 5 s; items already opened (4 s ahead) keep their level; a song
        # lasts 5 s: within 20 s every song on air is one opened after the change.
        time.sleep(20)
        after = level(listener, 4)
    finally:
        listener.stop()
        playout.close()
        st.close()
    assert after - before == pytest.approx(-10.0, abs=1.5), (before, after)
