"""The station stays on air when its parts fail, heard where the listener is.

Each test puts Diaspor.FM (15 s songs: a boundary every 15 s) and Diaspor TV (20 s episodes in
2 s segments) on air under `run_playout`, as `diaspor playout` runs them, with a real
listener on the relay's MP3 mount (ffmpeg decoding it), a player's reload of the TV variant
playlist from outside, and the playout process's own health answer. Then a part fails for
half a minute or a minute, across several boundaries of both channels:

- storage (the S3 server behind a proxy that is cut);
- the database (PostgreSQL behind a proxy that is cut; never the machine's shared server);
- side effects (the as-run table refuses every row, the now-playing folder is not a folder);
- the encoder and the items' decoders, killed again and again.

In each: the listener keeps its connection and never hears more than 2 s of silence, the TV
playlist numbers never go back and advance again, the process stays up, its health said
"degraded" (and which part) while it was, and what aired is in the as-run when the part
comes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url

from diaspor import migrate
from diaspor.compose import Station, build_station
from diaspor.playout import run_playout
from media.binaries import Tools
from playout.asrun import AsRunLog
from tests.conftest import fresh_pg_database, settings_for
from tests.faults_support import HealthWatcher, PlaylistWatcher, Proxy, RadioListener
from tests.radio_support import Playout, add_radio_channel
from tests.support import free_port
from tests.tv_support import add_tv_channel

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=140)]
MAX_SILENCE_S = 2.0
# Songs long enough that their decoders are still running when killed (a decoder runs
# ahead of the mixer by up to ~8 s, then waits); a boundary every 15 s.
SONG_S = 15
TV_PLAYLIST = "hls/tv/diaspor-tv/180p.m3u8"


@dataclass
class OnAir:
    station: Station
    playout: Playout
    listener: RadioListener
    tv: PlaylistWatcher
    health: HealthWatcher

    def up(self) -> bool:
        return not self.playout.done.done()

    def asrun_between(self, channel: str, a: datetime, b: datetime) -> list[Any]:
        return [
            r for r in AsRunLog(self.station.db, channel).recent(500) if a <= r.actual_start < b
        ]


def station_for(tmp_path: Path, tools: Tools, db_url: str, **extra: Any) -> Station:
    settings = settings_for(
        tmp_path,
        db_url,
        port=free_port(),
        relay_port=free_port(),
        metrics_port=free_port(),
        tv_ladder=["180p:320x180:300", "90p:160x90:120"],
        tv_segment_s=2,
        tv_window=6,
        onair_status_s=1.0,
        **extra,
    )
    migrate.upgrade(settings.database_url)
    st = build_station(settings, tools=tools)
    add_radio_channel(st, tools, tmp_path, filler_bed=True, seconds=SONG_S)
    add_tv_channel(st, tools, tmp_path / "src")
    return st


@contextmanager
def on_air(st: Station, tools: Tools, read_playlist: Any) -> Iterator[OnAir]:
    s = st.settings
    playout = Playout(st, run_playout)
    listener = tv = health = None
    try:
        deadline = time.monotonic() + 30
        listener = RadioListener(tools.ffmpeg, f"http://127.0.0.1:{s.relay_port}/diaspor-fm.mp3")
        while time.monotonic() < deadline:  # the mount is there once the encoder connects
            time.sleep(1)
            listener.start()
            time.sleep(1.5)
            if listener.blocks:
                break
            listener.stop()
        assert listener.blocks, "the radio never came on air"
        tv = PlaylistWatcher(read_playlist).start()
        health = HealthWatcher(f"http://127.0.0.1:{s.metrics_port}/health").start()
        # The TV packages its first segments after the radio is heard; on a busy machine
        # that can take longer than the calm before a fault, so the fault waits for it.
        deadline = time.monotonic() + 60
        while not tv.seen and time.monotonic() < deadline:
            time.sleep(0.5)
        assert tv.seen, "the TV channel never came on air"
        yield OnAir(st, playout, listener, tv, health)
    finally:
        for w in (listener, tv, health):
            if w is not None:
                w.stop()
        try:
            playout.close()
        finally:
            st.close()


def check_heard(air: OnAir, fault: str) -> None:
    heard = air.listener
    assert not heard.ended, f"the listener lost its connection ({fault}): {heard.said[-5:]}"
    silence = air.listener.longest_silence_s(skip_s=1.0)
    assert silence <= MAX_SILENCE_S, f"{silence:.2f} s of silence on air ({fault})"


def check_tv(air: OnAir, back_at: float) -> None:
    assert air.tv.seen, "the TV playlist was never read"
    assert air.tv.never_went_back(), f"TV numbers went back: {air.tv.seen}"
    time.sleep(6)
    assert air.tv.advanced_after(back_at), "the TV playlist did not advance after the fault"


@dataclass(frozen=True)
class Outage:
    began: datetime
    ended: datetime
    degraded: set[str]  # the parts health called degraded meanwhile


def outage(
    air: OnAir, cut: Callable[[], None], mend: Callable[[], None], seconds: float, fault: str
) -> Outage:
    """On air for a while, then the part is away for `seconds`, then back: what the
    listener heard and the TV playlist did are checked on the way."""
    time.sleep(8)
    began = datetime.now(UTC)
    cut()
    time.sleep(seconds)
    assert air.up(), f"the process stopped ({fault})"
    degraded = air.health.degraded_parts()
    mend()
    back = time.monotonic()
    ended = datetime.now(UTC)
    check_heard(air, fault)
    check_tv(air, back)
    return Outage(began, ended, degraded)


# --- storage ------------------------------------------------------------------------------


@pytest.mark.s3
def test_storage_away_for_30_s_is_ridden_out_by_both_channels(
    tmp_path: Path, tools: Tools, s3_bucket: dict[str, Any]
) -> None:
    host, port = s3_bucket["endpoint"].removeprefix("http://").split(":")
    proxy = Proxy(host, int(port))
    direct, bucket = s3_bucket["client"], s3_bucket["bucket"]

    def read_playlist() -> str:  # a player reading from the bucket, not through the proxy
        return str(direct.get_object(Bucket=bucket, Key=TV_PLAYLIST)["Body"].read().decode())

    st = station_for(
        tmp_path,
        tools,
        f"sqlite:///{tmp_path / 'station.db'}",
        storage_backend="s3",
        s3_bucket=bucket,
        s3_endpoint_url=f"http://{proxy.address}",
        s3_access_key_id="test",
        s3_secret_access_key="test",
    )
    try:
        with on_air(st, tools, read_playlist) as air:
            out = outage(air, proxy.cut, proxy.restore, 30, "storage away")
            assert "diaspor-tv/sequencer" in out.degraded, out.degraded
            assert out.degraded & {"diaspor-fm/now-playing", "diaspor-fm/decoder"}, out.degraded
            assert air.health.ok_again(), air.health.still_degraded()
            check_heard(air, "after storage came back")
            rows = air.asrun_between("diaspor-fm", out.began, out.ended)
            assert len(rows) >= 2, rows  # a boundary every 15 s: as-run went on
    finally:
        proxy.close()


# --- the database ---------------------------------------------------------------------------


@pytest.fixture
def own_pg_database() -> Iterator[str]:
    """A database of this test's own on the machine's PostgreSQL, reached through a proxy
    the test can cut (the machine's server itself is never stopped)."""
    with fresh_pg_database("diaspor_fault") as url:
        yield url


@pytest.mark.postgres
def test_database_away_for_30_s_is_ridden_out_and_as_run_written_after(
    tmp_path: Path, tools: Tools, own_pg_database: str
) -> None:
    url = make_url(own_pg_database)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    st = station_for(tmp_path, tools, through)
    storage = Path(st.settings.storage_dir or "")
    try:
        with on_air(st, tools, lambda: (storage / TV_PLAYLIST).read_text()) as air:
            out = outage(air, proxy.cut, proxy.restore, 30, "database away")
            assert {"diaspor-fm/as-run", "diaspor-tv/as-run"} <= out.degraded, out.degraded
            assert air.health.ok_again(), air.health.still_degraded()
            radio = air.asrun_between("diaspor-fm", out.began, out.ended)
            tv = air.asrun_between("diaspor-tv", out.began, out.ended)
            assert len(radio) >= 2, radio  # written when the database came back
            assert tv, "no TV as-run for the half minute the database was away"
    finally:
        proxy.close()


# --- side effects -----------------------------------------------------------------------------
