"""What the logs say: credentials in URLs and secret parameters never reach a log line, from
ffmpeg's own complaints to any record our formatters write."""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import pytest

from media.binaries import Tools
from station.logs import JsonFormatter, TextFormatter, redact
from streamer.encoder import Encoder
from streamer.outputs import IcecastOutput
from tests.support import free_port, run

USER = "diaspor-source"
PASSWORD = "parol-Gizli-2026"


def test_an_encoder_that_cannot_reach_icecast_logs_its_user_but_not_its_password(
    tools: Tools, caplog: pytest.LogCaptureFixture
) -> None:
    """ffmpeg prints the whole `icecast://user:password@host` URL when the connection fails,
    and the encoder passes every line of ffmpeg's on."""
    caplog.set_level(logging.DEBUG)
    closed = IcecastOutput("/diaspor-fm.mp3", PASSWORD, user=USER, port=free_port())

    async def story() -> None:
        encoder = Encoder(tools.ffmpeg, [closed], restart=False)
        async with asyncio.timeout(20):
            # Seconds of stereo silence until ffmpeg has probed its input and given up.
            while encoder.proc is None or encoder.proc.returncode is None:
                await encoder.write(bytes(48_000 * 4))
                await asyncio.sleep(0.01)
        await encoder.close()  # ffmpeg's last words are read to the end

    run(story())
    said = [r for r in caplog.records if r.name == "streamer.encoder" and hasattr(r, "line")]
    told = " ".join(f"{r.getMessage()} {vars(r)}" for r in said)
    assert "Connection refused" in told and f"icecast://{USER}:***@" in told
    assert PASSWORD not in told and PASSWORD not in caplog.text
    for record in said:
        for formatter in (TextFormatter(), JsonFormatter()):
            assert PASSWORD not in formatter.format(record)


def test_the_formatters_mask_credentials_in_the_message_the_context_and_the_error() -> None:
    """Whatever a module logs (a URL in an extra, an exception's text), the line written
    keeps who and where, not the secret."""
    record = logging.LogRecord(
        "streamer.anywhere",
        logging.ERROR,
        __file__,
        1,
        "cannot open %s",
        ("icecast://source:hackme-Ş1@icecast:8000/diaspor-fm.mp3",),
        None,
    )
    record.studio = "srt://studio.example:9000?mode=caller&passphrase=Gizli-Parol-77&latency=200"
    record.source = (
        "https://bucket.example/a.mp3?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=0a1b2c3d4e"
    )
    try:
        raise RuntimeError("push failed: rtmp://studio:topsecret-99@tv.example/live")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    secrets = ("hackme-Ş1", "Gizli-Parol-77", "AKIAEXAMPLE", "0a1b2c3d4e", "topsecret-99")

    text = TextFormatter().format(record)
    entry = json.loads(JsonFormatter().format(record))
    for written in (text, json.dumps(entry, ensure_ascii=False)):
        assert not [s for s in secrets if s in written], written
    assert "icecast://source:***@icecast:8000/diaspor-fm.mp3" in text
    assert entry["message"] == "cannot open icecast://source:***@icecast:8000/diaspor-fm.mp3"
    assert entry["studio"].endswith("mode=caller&passphrase=***&latency=200")
    assert "rtmp://studio:***@tv.example/live" in entry["error"]


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (
            "icecast://source:hack%C5%9Eme@127.0.0.1:8000/x.mp3: Connection refused",
            "icecast://source:***@127.0.0.1:8000/x.mp3: Connection refused",
        ),
        ("output.icecast: http://:p@ss@ice:8000/x", "output.icecast: http://:***@ice:8000/x"),
        (
            "srt://studio:9000?streamid=#!::r=live,m=publish&passphrase=Gizli-Parol-77 lost",
            "srt://studio:9000?streamid=***&passphrase=*** lost",
        ),
        (
            "ffmpeg -f mpegts -passphrase Gizli-Parol-77 -i srt://",
            "ffmpeg -f mpegts -passphrase *** -i srt://",
        ),
        # What carries no secret is left as it is.
        ("http://relay:8001/live/diaspor-fm?a=b@c", "http://relay:8001/live/diaspor-fm?a=b@c"),
        ("bypass=1 key=hls/radio/x/seg-1.ts", "bypass=1 key=hls/radio/x/seg-1.ts"),
    ],
)
def test_a_line_keeps_who_and_where_but_not_the_secret(line: str, shown: str) -> None:
    assert redact(line) == shown


def test_a_secret_without_a_tell_tale_shape_is_masked_when_named() -> None:
    key = "studio-key-Xy81"
    assert redact(f"Unexpected stream wrong, expecting {key}", [key]) == (
        "Unexpected stream wrong, expecting ***"
    )
