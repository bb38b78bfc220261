"""The Liquidsoap script without Liquidsoap: the .liq text we generate, the request
annotations it reads and the track lines it prints."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streamer.liquidsoap_script import (
    MASTER_GAIN_VAR,
    TRACK_MARKER,
    FileOutput,
    LiquidsoapConfig,
    amplify_db,
    annotate,
    liq_string,
    parse_track_line,
    render_script,
)
from streamer.outputs import IcecastOutput

SARI_GELIN = "Sarı gəlin"
BEHBUDOV = "Rəşid Behbudov"


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
        'output.icecast(id="out0", %mp3(bitrate=128, internal_quality=2), format="audio/mpeg", '
        'host="icecast.internal", port=8000, user="source", password="s3\\"cret", '
        'mount="/radio.mp3", name="Diaspor.FM", genre="Azərbaycan", '
        'url="https://diaspor.fm", encoding="UTF-8", radio)',
        'output.icecast(id="out1", %ffmpeg(format="adts", %audio(codec="aac", b="128k", '
        'aac_coder="fast", cutoff="15000")), format="audio/aac"',
        'output.file(id="out2", %mp3(bitrate=128, internal_quality=2), "/var/air/%%d-day.mp3", '
        "radio)",
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
