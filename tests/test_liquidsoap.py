"""Liquidsoap as the second engine: the script we generate, the control client, and the real
binary airing annotated requests with a crossfade."""

from __future__ import annotations

import array
import asyncio
import math
import os
import subprocess
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from media.binaries import Tools
from streamer.liquidsoap import (
    AMPLIFY_KEY,
    MASTER_GAIN_VAR,
    TRACK_MARKER,
    FileOutput,
    IcecastOutput,
    LiquidsoapClient,
    LiquidsoapConfig,
    LiquidsoapError,
    LiquidsoapProcess,
    amplify_db,
    annotate,
    liq_string,
    parse_ids,
    parse_metadata,
    parse_track_line,
    parse_uptime,
    render_script,
    unescape,
)
from tests.support import free_port, need_program, run, tone

T = TypeVar("T")
SARI_GELIN = "Sarı gəlin"
BEHBUDOV = "Rəşid Behbudov"
# Quotes and a backslash: what the annotate escaping has to carry through Liquidsoap.
SIKESTE = 'Qarabağ şikəstəsi — "canlı" \\ ifa'
RATE = 8000  # analysis rate for the rendered air signal


def as_root() -> bool:
    return os.geteuid() == 0


# --- pure: annotate --------------------------------------------------------------------------


def test_annotate_escapes_quotes_and_backslashes_and_keeps_azerbaijani_letters() -> None:
    uri = annotate(
        "/media/sari gelin.mp3",
        title='Sarı "gəlin" \\ ğ ş ç ö ü ə',
        artist=BEHBUDOV,
        diaspor_item="item-7",
        liq_amplify=amplify_db(-4.2),
    )
    assert uri == (
        'annotate:title="Sarı \\"gəlin\\" \\\\ ğ ş ç ö ü ə",artist="Rəşid Behbudov",'
        'diaspor_item="item-7",liq_amplify="-4.20 dB":/media/sari gelin.mp3'
    )


def test_annotate_turns_line_breaks_and_controls_into_escapes() -> None:
    assert annotate("/a.mp3", comment="bir\niki\tüç\x01") == (
        'annotate:comment="bir\\niki\\tüç\\u0001":/a.mp3'
    )
    assert annotate("/a.mp3") == "/a.mp3"
    assert annotate("/a.mp3", n=3, gain=0.5) == 'annotate:n="3",gain="0.5":/a.mp3'


def test_annotate_refuses_what_would_break_the_command_line() -> None:
    with pytest.raises(ValueError, match="line break"):
        annotate("/a.mp3\nschedule.skip", title="x")
    with pytest.raises(ValueError, match="metadata key"):
        annotate("/a.mp3", **{'ti"tle': "x"})


def test_gain_is_written_in_db_for_amplify() -> None:
    assert amplify_db(-6) == "-6.00 dB"
    assert amplify_db(3.456) == "3.46 dB"
    with pytest.raises(ValueError):
        amplify_db(math.nan)


# --- pure: replies -----------------------------------------------------------------------------

# `request.metadata 0` as Liquidsoap 2.1.3 answered it (bytes before END, decoded).
METADATA_REPLY = (
    'liq_amplify="-3 dB"\nrid="0"\non_air="2026/11/26 01:40:31"\nstatus="playing"\n'
    'initial_uri="annotate:title=\\"Sarı gəlin \\\\\\"q\\\\\\" back\\\\\\\\slash\\",'
    'artist=\\"Rəşid Behbudov\\":/tmp/a.mp3"\n'
    'filename="/tmp/a.mp3"\ntitle="Sarı gəlin \\"q\\" back\\\\slash"\n'
    'artist="Rəşid Behbudov"\ncomment="line1\\nline2\\ttab"\n'
    'txxx="\\u0003comment\\u0000x"\non_air_timestamp="1795657231.00"\ndiaspor_item="it-1"'
)


def test_metadata_reply_is_parsed_and_unescaped() -> None:
    meta = parse_metadata(METADATA_REPLY)
    assert meta["title"] == 'Sarı gəlin "q" back\\slash'
    assert meta["artist"] == BEHBUDOV
    assert meta["rid"] == "0"
    assert meta["comment"] == "line1\nline2\ttab"
    assert meta["txxx"] == "\x03comment\x00x"
    assert meta["initial_uri"] == (
        'annotate:title="Sarı gəlin \\"q\\" back\\\\slash",artist="Rəşid Behbudov":/tmp/a.mp3'
    )
    assert meta["diaspor_item"] == "it-1"
    assert meta[AMPLIFY_KEY] == "-3 dB"


def test_unescape_reads_unicode_escapes_and_surrogate_pairs() -> None:
    assert unescape("\\u0259 \\ud83c\\udfb5 \\x41 \\/") == "ə 🎵 A /"


def test_id_lists_and_uptime_are_read() -> None:
    assert parse_ids("") == []
    assert parse_ids("3 4") == [3, 4]
    with pytest.raises(LiquidsoapError):
        parse_ids("No such request.")
    assert parse_uptime("1d 02h 03m 04s") == timedelta(days=1, hours=2, minutes=3, seconds=4)


def test_track_hook_line_becomes_a_track_change() -> None:
    line = (
        TRACK_MARKER + '[["on_air_timestamp","1795657231.00"],["title","Sarı gəlin"],'
        '["artist","Rəşid Behbudov"],["rid","5"],["diaspor_item","item-1"]]'
    )
    change = parse_track_line(line)
    assert change is not None
    assert (change.rid, change.item, change.title, change.artist) == (
        5,
        "item-1",
        SARI_GELIN,
        BEHBUDOV,
    )
    assert change.on_air == datetime.fromtimestamp(1795657231, tz=UTC)
    assert parse_track_line("2026/11/26 01:40:31 [main:3] Switch to blank") is None
    assert parse_track_line(TRACK_MARKER + "not json") is None


# --- pure: the script ------------------------------------------------------------------------


def station_config(**kw: object) -> LiquidsoapConfig:
    defaults: dict[str, object] = {
        "outputs": (
            IcecastOutput(
                mount="/radio.mp3",
                password='s3"cret',
                host="icecast.internal",
                port=8000,
                name="Diaspor.FM",
                genre="Azərbaycan",
                url="https://diaspor.fm",
            ),
            IcecastOutput(mount="/radio.aac", password="x", codec="aac"),
            FileOutput(Path("/var/air/%d-day.mp3"), codec="mp3"),
        ),
        "port": 1234,
        "crossfade_seconds": 3.0,
        "safety_file": Path("/srv/safety.mp3"),
        "log_file": Path("/var/log/liquidsoap.log"),
    }
    defaults.update(kw)
    return LiquidsoapConfig(**defaults)  # type: ignore[arg-type]


def test_script_has_server_queue_gain_crossfade_fallback_and_outputs() -> None:
    script = render_script(station_config())
    expected = [
        "settings.server.telnet.set(true)",
        'settings.server.telnet.bind_addr.set("127.0.0.1")',
        "settings.server.telnet.port.set(1234)",
        "settings.server.timeout.set(-1.)",
        'settings.log.file.path.set("/var/log/liquidsoap.log")',
        'radio = request.queue(id="schedule")',
        'radio = amplify(id="track_gain", override="liq_amplify", 1., radio)',
        'radio = crossfade(id="crossfade", duration=3.000, fade_in=3.000, fade_out=3.000, radio)',
        f'print("{TRACK_MARKER}" ^ json.stringify(compact=true, m))',
        'radio = fallback(id="radio", track_sensitive=false, '
        '[radio, single(id="safety", "/srv/safety.mp3"), blank(id="silence")])',
        f'interactive.float("{MASTER_GAIN_VAR}", 1.000)',
        'output.icecast(id="out0", %mp3(bitrate=128), format="audio/mpeg", '
        'host="icecast.internal", port=8000, user="source", password="s3\\"cret", '
        'mount="/radio.mp3", name="Diaspor.FM", genre="Azərbaycan", '
        'url="https://diaspor.fm", encoding="UTF-8", radio)',
        'output.icecast(id="out1", %ffmpeg(format="adts", %audio(codec="aac", b="128k")), '
        'format="audio/aac"',
        'output.file(id="out2", %mp3(bitrate=128), "/var/air/%%d-day.mp3", radio)',
    ]
    for piece in expected:
        assert piece in script
    # The gain is per track, so it must come before the tracks overlap.
    assert script.index("track_gain") < script.index("crossfade(") < script.index("fallback(")
    assert script.index("on_track") < script.index("crossfade(")
    assert "allow_root" not in script
    assert 's3"cret' not in repr(station_config().outputs[0])


def test_script_can_use_a_unix_socket_and_hard_cuts() -> None:
    script = render_script(
        station_config(
            socket_path=Path("/run/diaspor/ls.sock"),
            crossfade_seconds=0,
            safety_file=None,
            log_file=None,
            allow_root=True,
        )
    )
    assert 'settings.server.socket.path.set("/run/diaspor/ls.sock")' in script
    assert "settings.server.telnet.set(true)" not in script
    assert "crossfade(" not in script
    assert "settings.log.file.set(false)" in script
    assert "settings.init.allow_root.set(true)" in script
    assert '[radio, blank(id="silence")]' in script


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        station_config(queue_id="two words")
    with pytest.raises(ValueError):
        station_config(crossfade_seconds=-1)
    with pytest.raises(ValueError):
        render_script(station_config(outputs=()))
    with pytest.raises(ValueError, match="metadata"):
        render_script(station_config(outputs=(FileOutput(Path("/air/$(title).wav")),)))


def test_string_literals_never_interpolate() -> None:
    assert liq_string('a"b\\c') == '"a\\"b\\\\c"'
    assert liq_string("x#{y}z") == '("x#" ^ "{y}z")'
    assert liq_string("tab\tnew\nline\x01") == '"tab\\tnew\\nline\\x01"'
    assert liq_string("Xoş gəlmisiniz") == '"Xoş gəlmisiniz"'


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
