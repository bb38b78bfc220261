"""Production playout: `diaspor playout`'s run_radio on a real icecast2 started from the
shipped deploy/icecast.xml. Listeners hear the station with every title (the first one too,
which icecast2 refuses until the encoder has connected) set through icecast2's admin API, and
when icecast2 goes away and comes back the encoder finds it again by itself."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from media.binaries import Tools
from tests.air_check import listen_for, listen_to_each
from tests.radio_support import SONGS, Playout, icecast_station, wait_for_mount
from tests.support import free_port, run
from tests.test_icecast_conformance import icecast2_running, mounts

pytestmark = [pytest.mark.slow, pytest.mark.icecast]
LOW = "/diaspor-fm-64.aac"  # for phones on mobile data


def test_playout_on_icecast2_sets_every_title_and_comes_back_after_icecast2_restarts(
    tmp_path: Path, tools: Tools
) -> None:
    port = free_port()
    st = icecast_station(tmp_path, tools, port)
    wanted = {f"{a} - {t}" for a, t in SONGS}
    playout: Playout | None = None
    try:
        with icecast2_running(tmp_path / "icecast-1.log", port=port) as server:
            playout = Playout(st)
            wait_for_mount(port, "/diaspor-fm.mp3", 15)
            wait_for_mount(port, "/diaspor-fm.aac", 5)
            wait_for_mount(port, LOW, 5)
            (titles, audio), (low_titles, low_audio) = run(
                listen_to_each(port, ["/diaspor-fm.mp3", LOW], 12)
            )
            # The title of what was on when the listener came, then the next ones; the
            # letters ə ğ ş arrive intact through icecast2's admin API.
            # (icecast2 may say "no title" for the moment before the first one is taken.)
            # The low-bitrate mount for phones carries them too.
            for got in (titles, low_titles):
                got = [t for t in got if t]
                assert got and set(got) <= wanted and len(set(got)) == 2, got
            assert audio > 12 * 16_000 * 0.7
            # (Both had icecast2's 64 KiB burst at once, then 128 and 64 kbit/s at most.)
            assert 12 * 8_000 * 0.6 < low_audio < 0.75 * audio
            assert mounts(server)["/diaspor-fm.mp3"].get("title") in wanted
            assert mounts(server)[LOW].get("title") in wanted
        # icecast2 is gone for a while: the encoder keeps trying, with back-off.
        time.sleep(4)
        with icecast2_running(tmp_path / "icecast-2.log", port=port):
            wait_for_mount(port, "/diaspor-fm.mp3", 20)
            titles, audio = run(listen_for(port, "/diaspor-fm.mp3", 7))
            assert audio > 7 * 16_000 * 0.7
            titles = [t for t in titles if t]
            assert titles and set(titles) <= wanted
    finally:
        if playout is not None:
            playout.close()
        st.close()
