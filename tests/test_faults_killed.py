"""The station stays on air while its encoder and decoders are killed again and again (see
tests/test_faults.py for the setting). A file of its own, so that it runs beside the other
minute-long fault runs rather than after them."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from media.binaries import Tools
from tests.support import metric, scrape
from tests.test_faults import (
    TV_PLAYLIST,
    check_heard,
    check_tv,
    on_air,
    station_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=90)]


# --- processes killed -------------------------------------------------------------------------


def ffmpeg_children(kind: str) -> list[int]:
    """This test process's ffmpeg children: the encoder (it writes to icecast://) or the
    items' decoders (they write f32le samples)."""
    mine = str(os.getpid())
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat[3] != mine or not cmd or not cmd[0].endswith(b"ffmpeg"):
            continue
        encoder = any(a.startswith(b"icecast://") for a in cmd)
        decoder = b"f32le" in cmd
        if (kind == "encoder" and encoder) or (kind == "decoder" and decoder):
            out.append(int(pid))
    return out


def test_encoder_and_decoders_killed_again_and_again_for_a_minute(
    tmp_path: Path, tools: Tools
) -> None:
    st = station_for(tmp_path, tools, f"sqlite:///{tmp_path / 'station.db'}")
    storage = Path(st.settings.storage_dir or "")
    rng = random.Random(7)
    with on_air(st, tools, lambda: (storage / TV_PLAYLIST).read_text()) as air:
        time.sleep(5)
        killed = {"encoder": 0, "decoder": 0}
        until = time.monotonic() + 60
        kind = "encoder"
        while time.monotonic() < until:
            found = time.monotonic() + 2  # a decoder runs for part of each song only
            while not (pids := ffmpeg_children(kind)) and time.monotonic() < found:
                time.sleep(0.1)
            if pids:
                os.kill(rng.choice(pids), signal.SIGKILL)
                killed[kind] += 1
            kind = "decoder" if kind == "encoder" else "encoder"
            time.sleep(rng.uniform(1.5, 3.0))
        assert air.up()
        assert killed["encoder"] >= 5 and killed["decoder"] >= 5, killed
        degraded = air.health.degraded_parts()
        check_heard(air, f"ffmpeg killed {killed}")
        check_tv(air, time.monotonic())
        assert {"diaspor-fm/encoder", "diaspor-fm/decoder"} <= degraded, degraded
        assert air.listener.heard_s >= 60
        # Playout's own metrics port tells the operator the same: every kill was followed by
        # a restart, the listener stayed on its mount, and nothing was dead air.
        # (The last kill's restart may still be under way on a busy machine: a few seconds.)
        deadline = time.monotonic() + 15
        while True:
            told = scrape(f"http://127.0.0.1:{st.settings.metrics_port}/metrics")
            restarts = metric(told, "diaspor_encoder_restarts_total", channel="diaspor-fm")
            if (restarts or 0) >= killed["encoder"] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert restarts is not None and restarts >= killed["encoder"], (restarts, killed)
        mp3 = metric(told, "diaspor_listeners", channel="diaspor-fm", mount="/diaspor-fm.mp3")
        assert mp3 == 1
        assert metric(told, "diaspor_dead_air_seconds_total", channel="diaspor-fm") is None
