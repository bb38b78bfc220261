"""Liquidsoap as the second engine, run for real: the generated script checked by the binary,
the control client and the process airing annotated requests with a crossfade."""

from __future__ import annotations

import array
import asyncio
import math
import os
import subprocess
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from media.binaries import Tools
from streamer.liquidsoap_client import LiquidsoapClient, LiquidsoapError
from streamer.liquidsoap_process import LiquidsoapProcess
from streamer.liquidsoap_script import (
    AMPLIFY_KEY,
    MASTER_GAIN_VAR,
    FileOutput,
    LiquidsoapConfig,
    amplify_db,
    annotate,
    render_script,
)
from streamer.outputs import IcecastOutput
from tests.support import free_port, need_program, run, tone
from tests.test_liquidsoap_script import BEHBUDOV, SARI_GELIN, station_config

T = TypeVar("T")
# Quotes and a backslash: what the annotate escaping has to carry through Liquidsoap.
SIKESTE = 'Qarabağ şikəstəsi — "canlı" \\ ifa'
RATE = 8000  # analysis rate for the rendered air signal


def as_root() -> bool:
    return os.geteuid() == 0


@pytest.mark.liquidsoap
def test_liquidsoap_accepts_the_generated_script_with_every_output() -> None:
    binary = need_program("liquidsoap")
    name = 'Diaspor.FM "#{canlı}" \\ ə'
    cfg = station_config(
        outputs=(
            IcecastOutput(mount="/radio.mp3", password="p", name=name),
            IcecastOutput(mount="/radio.aac", password="p", codec="aac"),
            FileOutput(Path("/tmp/air.wav")),
        ),
        allow_root=as_root(),
        log_file=None,
    )
    res = _check_script(binary, render_script(cfg))
    assert res.returncode == 0, res.stdout + res.stderr


def _check_script(binary: str, script: str) -> subprocess.CompletedProcess[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "check.liq"
        path.write_text(script, encoding="utf-8")
        return subprocess.run(
            [binary, "--check", str(path)], capture_output=True, text=True, timeout=60
        )


# --- the real binary -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory, tools: Tools) -> dict[str, Path]:
    """4 s and 5 s tones at the same level; their own tags differ from the annotations."""
    d = tmp_path_factory.mktemp("liquidsoap-media")
    return {
        "first": tone(
            tools.ffmpeg, d / "birinci.mp3", seconds=4, freq=440, tags={"title": "köhnə"}
        ),
        "second": tone(tools.ffmpeg, d / "ikinci.mp3", seconds=5, freq=660),
        "safety": tone(tools.ffmpeg, d / "safety.mp3", seconds=3, freq=330, volume=0.1),
    }


async def until(
    probe: Callable[[], Awaitable[T | None]], *, timeout: float, what: str, step: float = 0.1
) -> T:
    async with asyncio.timeout(timeout):
        while True:
            value = await probe()
            if value is not None:
                return value
            await asyncio.sleep(step)
    raise AssertionError(what)  # pragma: no cover


def on_air_with(
    client: LiquidsoapClient, rid: int
) -> Callable[[], Awaitable[dict[str, str] | None]]:
    async def probe() -> dict[str, str] | None:
        if rid in await client.on_air():
            return await client.metadata(rid)
        return None

    return probe


def decode_mono(ffmpeg: str, path: Path) -> array.array[int]:
    pcm = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-nostdin",
            "-i",
            str(path),
            "-ac",
            "1",
            "-ar",
            str(RATE),
            "-f",
            "s16le",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    samples = array.array("h")
    samples.frombytes(pcm)
    return samples


def rms(samples: array.array[int], start: float, end: float) -> float:
    part = samples[int(start * RATE) : int(end * RATE)]
    return math.sqrt(sum(x * x for x in part) / max(1, len(part)))


@pytest.mark.liquidsoap
def test_two_annotated_songs_air_in_order_with_their_gain_and_a_crossfade(
    tmp_path: Path, songs: dict[str, Path], tools: Tools
) -> None:
    binary = need_program("liquidsoap")
    air = tmp_path / "air.wav"
    cfg = LiquidsoapConfig(
        outputs=(FileOutput(air),),
        port=free_port(),
        crossfade_seconds=1.0,
        allow_root=as_root(),
    )

    async def story() -> tuple[dict[str, str], dict[str, str], list[int]]:
        async with LiquidsoapProcess(cfg, binary=binary, script_path=tmp_path / "radio.liq") as lq:
            client = lq.client
            assert (await client.version()).startswith("Liquidsoap 2.")
            first = await client.push(
                "schedule",
                annotate(
                    str(songs["first"]),
                    title=SARI_GELIN,
                    artist=BEHBUDOV,
                    diaspor_item="item-1",
                    liq_amplify=amplify_db(-6.0),
                ),
            )
            second = await client.push(
                "schedule",
                annotate(
                    str(songs["second"]),
                    title=SIKESTE,
                    artist="Xan Şuşinski",
                    diaspor_item="item-2",
                ),
            )
            assert second == first + 1
            meta1 = await until(on_air_with(client, first), timeout=5, what="first on air")
            started1 = await asyncio.wait_for(lq.tracks.get(), 5)
            meta2 = await until(on_air_with(client, second), timeout=8, what="second on air")
            started2 = await asyncio.wait_for(lq.tracks.get(), 5)
            assert (started1.rid, started1.item, started1.title) == (first, "item-1", SARI_GELIN)
            assert (started2.rid, started2.item, started2.title) == (second, "item-2", SIKESTE)
            assert started1.on_air is not None and started2.on_air is not None
            # Liquidsoap stamps on-air times to the second: 4 s song, 1 s overlap.
            gap = (started2.on_air - started1.on_air).total_seconds()
            assert 2 <= gap <= 4

            async def second_done() -> bool | None:
                return True if second not in await client.on_air() else None

            await until(second_done, timeout=8, what="second song ended")
            # The crossfade holds back the last `duration` of a track: let it reach the file.
            await asyncio.sleep(cfg.crossfade_seconds + 0.5)
            return meta1, meta2, [first, second]

    meta1, meta2, rids = run(story())
    assert (tmp_path / "radio.liq").stat().st_mode & 0o777 == 0o600  # may hold passwords
    assert meta1["title"] == SARI_GELIN
    assert meta1["artist"] == BEHBUDOV
    assert meta1["diaspor_item"] == "item-1"
    assert meta1[AMPLIFY_KEY] == "-6.00 dB"
    assert meta1["rid"] == str(rids[0])
    assert meta2["title"] == SIKESTE
    assert meta2["artist"] == "Xan Şuşinski"

    samples = decode_mono(tools.ffmpeg, air)
    loud = [i for i, x in enumerate(samples) if abs(x) > 30]
    assert loud, "the air file is silent"
    start, end = loud[0] / RATE, loud[-1] / RATE
    # 4 s + 5 s - 1 s overlap; Liquidsoap runs in real time, so be generous.
    assert 7.0 <= end - start <= 9.0, (start, end)
    # The first song carries -6 dB (half the amplitude); the files are equally loud.
    ratio = rms(samples, start + 0.5, start + 2.5) / rms(samples, start + 4.0, start + 7.0)
    assert 0.4 <= ratio <= 0.63, ratio


@pytest.mark.liquidsoap
def test_safety_file_fills_silence_and_errors_are_clear_over_a_unix_socket(
    tmp_path: Path, songs: dict[str, Path], tools: Tools
) -> None:
    binary = need_program("liquidsoap")
    air = tmp_path / "air.aac"
    cfg = LiquidsoapConfig(
        outputs=(FileOutput(air, codec="aac"),),
        socket_path=tmp_path / "ls.sock",
        crossfade_seconds=0,
        safety_file=songs["safety"],
        allow_root=as_root(),
    )

    async def story() -> None:
        async with LiquidsoapProcess(cfg, binary=binary) as lq:
            client = lq.client
            assert client.path == tmp_path / "ls.sock"

            async def safety_on_air() -> int | None:
                for rid in await client.on_air():
                    if (await client.metadata(rid)).get("filename") == str(songs["safety"]):
                        return rid
                return None

            safety_rid = await until(safety_on_air, timeout=5, what="safety file on air")

            with pytest.raises(LiquidsoapError, match="unknown command") as err:
                await client.command("no.such.command")
            assert err.value.command == "no.such.command"
            assert err.value.reply is not None and err.value.reply.startswith("ERROR")
            with pytest.raises(LiquidsoapError, match="no request 987654"):
                await client.metadata(987654)
            with pytest.raises(LiquidsoapError, match="unknown command"):
                await client.skip("no_such_source")
            with pytest.raises(LiquidsoapError, match="cannot set variable 'nope'"):
                await client.var_set("nope", 1.0)

            await client.var_set(MASTER_GAIN_VAR, 0.5)
            assert await client.var_get(MASTER_GAIN_VAR) == "0.500"
            assert await client.uptime() >= timedelta(0)

            rid = await client.push("schedule", annotate(str(songs["second"]), title=SIKESTE))
            meta = await until(on_air_with(client, rid), timeout=5, what="push cuts in")
            assert meta["title"] == SIKESTE
            assert (await asyncio.wait_for(lq.tracks.get(), 5)).rid == rid
            assert await client.queue("schedule") == []

            await client.skip("schedule")

            async def back_to_safety() -> bool | None:
                return True if rid not in await client.on_air() else None

            await until(back_to_safety, timeout=5, what="skip returns to the safety file")
            assert safety_rid != rid
            await asyncio.sleep(1.0)  # some more air in the AAC file
        assert lq.returncode is not None
        assert lq.script_path is None

    run(story())
    probe = subprocess.run(
        [tools.ffmpeg, "-hide_banner", "-nostdin", "-i", str(air)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Audio: aac" in probe.stderr, probe.stderr
    assert len(decode_mono(tools.ffmpeg, air)) > RATE // 2, "the AAC file is (nearly) empty"


def test_a_process_that_dies_at_start_is_reported_and_reaped(tmp_path: Path) -> None:
    false = need_program("false")
    cfg = LiquidsoapConfig(outputs=(FileOutput(tmp_path / "air.wav"),), port=free_port())

    async def story() -> None:
        lq = LiquidsoapProcess(cfg, binary=false, startup_timeout=5)
        with pytest.raises(LiquidsoapError, match="exited with status 1"):
            await lq.start()
        assert lq.returncode == 1
        assert lq.script_path is None  # the temporary script is gone too
        missing = LiquidsoapProcess(cfg, binary=str(tmp_path / "no-liquidsoap"))
        with pytest.raises(LiquidsoapError, match="cannot run"):
            await missing.start()

    run(story())
