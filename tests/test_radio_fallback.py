"""Listeners stay through a playout restart: icecast2, from the shipped deploy/icecast.xml,
moves each station mount's listeners to its fallback mount (fed by `diaspor fallback air`,
a loop that playout does not own) when the live source goes, and back (fallback-override)
when it returns, on the one connection they opened."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from diaspor.compose import Station
from media.binaries import Tools
from streamer.encoder import icecast_output_args
from streamer.fallback_source import fallback_mount
from streamer.icecast_admin import IcecastAdminError
from streamer.outputs import IcecastOutput
from tests.air_check import Heard, decode, frames, listen, tone_changes
from tests.radio_support import SONGS, Playout, music_station
from tests.support import free_port, interrupt, tone
from tests.test_icecast_conformance import (
    Server,
    icecast2_running,
    mounts,
    set_title,
    shipped_credentials,
    stop,
)

pytestmark = [pytest.mark.slow, pytest.mark.icecast, pytest.mark.runs(seconds=50)]

PASSWORD = "fallback-test-source-password"  # in place of the shipped placeholder
LIVE = (("/diaspor-fm.mp3", "mp3", 128), ("/diaspor-fm.aac", "aac", 128))
LOW = ("/diaspor-fm-64.aac", "aac", 64)
STATION = (*LIVE, LOW)
LIVE_MOUNTS = [m for m, _, _ in STATION]
TONES = {"live": 440.0, "loop": 880.0}
LIVE_TITLE = "Rəşid Behbudov - Sarı gəlin"


def outputs(port: int, mounts_: tuple[tuple[str, str, int], ...]) -> list[IcecastOutput]:
    return [
        IcecastOutput(path, PASSWORD, port=port, codec=codec, bitrate_kbps=kbps)  # type: ignore[arg-type]
        for path, codec, kbps in mounts_
    ]


def live_source(tools: Tools, server: Server, log: Path) -> subprocess.Popen[bytes]:
    """Playout's stand-in: one ffmpeg sending a 440 Hz tone, 48 kHz, to the station's three
    mounts, encoded by the encoder's own output arguments."""
    args = [tools.ffmpeg, "-hide_banner", "-nostdin", "-v", "error", "-re"]
    args += ["-f", "lavfi", "-i", "sine=f=440:sample_rate=48000"]
    for out in outputs(server.port, STATION):
        args += ["-map", "0:a", "-af", "volume=0.5", "-ac", "2", *icecast_output_args(out)]
    with log.open("ab") as err:
        return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)


def wait_until_on(server: Server, wanted: set[str], proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 20
    while not wanted <= set(mounts(server)):
        assert proc.poll() is None, f"the source ended with {proc.returncode}"
        assert time.monotonic() < deadline, f"not all of {sorted(wanted)} came on air"
        time.sleep(0.1)


def wait_for_title(server: Server, mount: str, title: str) -> None:
    deadline = time.monotonic() + 10
    while mounts(server).get(mount, {}).get("title") != title:
        assert time.monotonic() < deadline, f"{mount} never showed the title {title!r}"
        time.sleep(0.1)


def heard_tones(ffmpeg: str, heard: Heard) -> list[str]:
    """The tones in the decoded audio, in order, each held at least half a second."""
    audio = bytes(heard.audio)
    pcm = decode(ffmpeg, audio[frames(audio).first :])
    return [name for _, name in tone_changes(pcm, TONES)]


def test_a_listener_stays_through_a_playout_restart_hearing_the_loop_then_the_station_again(
    tmp_path: Path, tools: Tools
) -> None:
    loop = tone(tools.ffmpeg, tmp_path / "ident.mp3", seconds=4, freq=880, volume=0.5)
    edits = {"CHANGE-ME-source-password": PASSWORD}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIASPOR_")}
    with icecast2_running(tmp_path / "icecast.log", edits) as server:
        env |= {
            "DIASPOR_ICECAST_URL": server.base_url,
            "DIASPOR_SOURCE_PASSWORD": PASSWORD,
            "DIASPOR_DATA_DIR": str(tmp_path / "data"),
        }
        check = [sys.executable, "-m", "diaspor", "fallback", "check"]
        missing = subprocess.run(check, env=env, capture_output=True, text=True, check=False)
        assert missing.returncode == 1, missing.stderr
        assert "/diaspor-fm-64-fallback.aac" in missing.stderr
        feeder = subprocess.Popen(
            [sys.executable, "-m", "diaspor", "fallback", "air", "--loop", str(loop)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            fallbacks = {fallback_mount(m) for m in LIVE_MOUNTS}
            assert fallbacks == {
                "/diaspor-fm-fallback.mp3",
                "/diaspor-fm-fallback.aac",
                "/diaspor-fm-64-fallback.aac",
            }
            wait_until_on(server, fallbacks, feeder)
            for m in fallbacks:
                wait_for_title(server, m, "Diaspor.FM")
            # The feeder's healthcheck.
            healthy = subprocess.run(check, env=env, capture_output=True, text=True, check=False)
            assert healthy.returncode == 0, healthy.stderr
            heard = asyncio.run(restart_with_listeners(tools, server, tmp_path))
        finally:
            interrupt(feeder)
        assert feeder.returncode == 0, "the feeder did not stop cleanly on Ctrl-C"

    for h in heard:
        # One connection throughout (`listen` fails if the server closes it): the station,
        # the loop while playout was away, and the station again.
        assert heard_tones(tools.ffmpeg, h) == ["live", "loop", "live"], h.mount
        titles = [t for _, t in h.titles]
        assert "Diaspor.FM" in titles, (h.mount, titles)
        assert titles.index("Diaspor.FM") > titles.index(LIVE_TITLE), (h.mount, titles)


def listeners(server: Server) -> dict[str, int]:
    """Listeners by mount (icecast2 lists a live mount that has gone while its fallback is on,
    without a count)."""
    return {m: s.get("listeners", 0) for m, s in mounts(server).items()}


async def restart_with_listeners(tools: Tools, server: Server, logs: Path) -> list[Heard]:
    """Listeners on the station's mounts while its source stops for five seconds and comes
    back, as a playout restart or a standby's takeover does."""

    sources: list[subprocess.Popen[bytes]] = []

    async def on_air() -> None:
        """The live source on each mount, with its title (taken once the source is on: a
        mount whose listeners are on its fallback is listed before)."""
        sources.append(source := live_source(tools, server, logs / "live.log"))
        for m in LIVE_MOUNTS:
            deadline = time.monotonic() + 20
            while True:
                assert source.poll() is None, f"the live source ended with {source.returncode}"
                try:
                    await asyncio.to_thread(set_title, server, m, LIVE_TITLE)
                    break
                except IcecastAdminError:
                    assert time.monotonic() < deadline, f"{m} did not come on air"
                    await asyncio.sleep(0.1)

    stop_listening = asyncio.Event()
    heard = [Heard(m) for m in LIVE_MOUNTS]
    listening: list[asyncio.Task[Heard]] = []
    try:
        await on_air()
        listening += [
            asyncio.create_task(listen(server.port, h.mount, stop_listening, h)) for h in heard
        ]
        await asyncio.sleep(4)
        stop(sources[-1])  # playout goes away
        await asyncio.sleep(5)
        assert all(not t.done() for t in listening), "a listener was dropped"
        away = listeners(server)
        assert [away[fallback_mount(m)] for m in LIVE_MOUNTS] == [1, 1, 1], away
        assert [away.get(m, 0) for m in LIVE_MOUNTS] == [0, 0, 0], away
        await on_air()  # playout is back
        await asyncio.sleep(5)
        back = listeners(server)
        assert [back[m] for m in LIVE_MOUNTS] == [1, 1, 1], back
        assert [back[fallback_mount(m)] for m in LIVE_MOUNTS] == [0, 0, 0], back
    finally:
        stop_listening.set()
        await asyncio.gather(*listening)
        for source in sources:
            stop(source)
    return heard


def test_listeners_stay_while_playout_itself_restarts(tmp_path: Path, tools: Tools) -> None:
    """The same with playout's own radio (run_radio, as `diaspor playout` runs it: the engine,
    its encoder, the titles through the admin API) stopped and started again. A listener
    who came while playout was away is on the loop at first and moved to the station when
    it starts."""
    creds = shipped_credentials()
    port = free_port()
    st = music_station(
        tmp_path,
        tools,
        radio_server="icecast",
        icecast_url=f"http://127.0.0.1:{port}",
        source_password=SecretStr(PASSWORD),
        icecast_admin_user=creds["admin_user"],
        icecast_admin_password=SecretStr(creds["admin_password"]),
    )
    loop = tone(tools.ffmpeg, tmp_path / "ident.mp3", seconds=4, freq=880, volume=1.0)
    watched = ["/diaspor-fm.mp3", "/diaspor-fm-64.aac"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIASPOR_")}
    env |= {"DIASPOR_ICECAST_URL": f"http://127.0.0.1:{port}", "DIASPOR_SOURCE_PASSWORD": PASSWORD}
    try:
        with icecast2_running(
            tmp_path / "icecast.log", {"CHANGE-ME-source-password": PASSWORD}, port=port
        ) as server:
            feeder = subprocess.Popen(
                [sys.executable, "-m", "diaspor", "fallback", "air", "--loop", str(loop)],
                env=env | {"DIASPOR_DATA_DIR": str(tmp_path / "feeder")},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            try:
                wait_until_on(server, {fallback_mount(m) for m in watched}, feeder)
                heard = asyncio.run(playout_restart(st, server, watched))
            finally:
                interrupt(feeder)
    finally:
        st.close()
    tones = {"loop": 880.0} | {f"song{i}": 330.0 + 110 * i for i in range(len(SONGS))}
    for h in heard:
        audio = bytes(h.audio)
        pcm = decode(tools.ffmpeg, audio[frames(audio).first :])
        names = [name if name == "loop" else "live" for _, name in tone_changes(pcm, tones)]
        order = [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]
        assert order == ["loop", "live", "loop", "live"], (h.mount, names)
        # The titles follow: the station's name on the loop, the songs' on the air.
        titles = [t for _, t in h.titles]
        songs = {f"{artist} - {title}" for artist, title in SONGS}
        assert set(titles) <= songs | {"Diaspor.FM"}, (h.mount, titles)
        kinds = ["loop" if t == "Diaspor.FM" else "live" for t in titles]
        assert [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k] == order, titles


async def playout_restart(st: Station, server: Server, watched: list[str]) -> list[Heard]:
    """Listeners on `watched` from before playout starts, through a stop and a start."""

    async def until(where: list[str], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while not all(listeners(server).get(m, 0) == 1 for m in where):
            assert all(not t.done() for t in listening), "a listener was dropped"
            assert time.monotonic() < deadline, (
                f"listeners never reached {where}: {listeners(server)}"
            )
            await asyncio.sleep(0.2)

    stop_listening = asyncio.Event()
    heard = [Heard(m) for m in watched]
    listening = [
        asyncio.create_task(listen(server.port, h.mount, stop_listening, h)) for h in heard
    ]
    playout: Playout | None = None
    try:
        await until([fallback_mount(m) for m in watched])
        await asyncio.sleep(2)
        playout = Playout(st)
        await until(watched)
        await asyncio.sleep(4)
        await asyncio.to_thread(playout.close)  # playout restarts
        playout = None
        await until([fallback_mount(m) for m in watched])
        await asyncio.sleep(3)
        playout = Playout(st)
        await until(watched)
        await asyncio.sleep(4)
    finally:
        stop_listening.set()
        await asyncio.gather(*listening)
        if playout is not None:
            await asyncio.to_thread(playout.close)
    return heard
