"""`diaspor playout` gives up, and says so, when a channel cannot be kept on air (see
tests/test_faults.py for the setting). A file of its own, so that it runs beside the other
minute-long fault runs rather than after them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from media.binaries import Tools
from tests.test_faults import station_for

pytestmark = pytest.mark.slow


def test_playout_exits_non_zero_when_a_channel_cannot_be_kept_on_air(
    tmp_path: Path, tools: Tools
) -> None:
    """`diaspor playout` whose TV sequencer state is damaged: the sequencer fails at every
    start, and after DIASPOR_GIVE_UP_S the process exits non-zero, saying which part."""
    from tests.conftest import env_for

    st = station_for(tmp_path, tools, f"sqlite:///{tmp_path / 'station.db'}", give_up_s=6.0)
    storage = Path(st.settings.storage_dir or "")
    state = storage / "hls/tv/diaspor-tv/sequencer.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text('{"version": 999}')
    st.close()
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "diaspor", "playout"],
        env=env_for(st.settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    took = time.monotonic() - started
    assert proc.returncode != 0, proc.stderr[-2000:]
    assert "diaspor-tv/sequencer" in proc.stderr, proc.stderr[-2000:]
    assert took < 60, took
