"""The station stays on air when its own processes and side effects fail (see
tests/test_faults.py for the setting: both channels on air under `run_playout`, a real
listener, the TV playlist read from outside, playout's health answer). A file of its own so
that these minute-long runs go beside the storage and database ones, not after them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text

from media.binaries import Tools
from tests.test_faults import (
    TV_PLAYLIST,
    on_air,
    outage,
    station_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=115)]


def test_side_effects_failing_for_a_minute_never_stop_the_air(tmp_path: Path, tools: Tools) -> None:
    st = station_for(tmp_path, tools, f"sqlite:///{tmp_path / 'station.db'}")
    storage = Path(st.settings.storage_dir or "")
    nowplaying = storage / "nowplaying"

    def break_them() -> None:
        with st.db.engine.begin() as c:  # every as-run row is refused
            c.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON as_run "
                    "BEGIN SELECT RAISE(ABORT, 'as-run refused'); END"
                )
            )
        os.rename(nowplaying, storage / "nowplaying-away")  # now-playing cannot be written
        nowplaying.write_text("not a folder")

    def mend_them() -> None:
        with st.db.engine.begin() as c:
            c.execute(text("DROP TRIGGER refuse"))
        nowplaying.unlink()
        os.rename(storage / "nowplaying-away", nowplaying)

    with on_air(st, tools, lambda: (storage / TV_PLAYLIST).read_text()) as air:
        out = outage(air, break_them, mend_them, 60, "side effects failing")
        want = {"diaspor-fm/as-run", "diaspor-fm/now-playing", "diaspor-tv/as-run"}
        assert want <= out.degraded, out.degraded
        assert air.health.ok_again(), air.health.still_degraded()
        rows = air.asrun_between("diaspor-fm", out.began, out.ended)
        assert len(rows) >= 4, rows  # a minute of 15 s songs, written once it could be
        assert air.asrun_between("diaspor-tv", out.began, out.ended)
        assert (nowplaying / "diaspor-fm.json").stat().st_mtime > out.ended.timestamp()
