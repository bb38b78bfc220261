"""Loudness where the listener is: music-like items (drums, noise bursts, wide dynamics, a hot
master, a quiet bed with sparse hits; 44.1 and 48 kHz) go on air through the engine, its
limiter, the encoder and the built-in relay; a listener on the MP3 mount, one on the AAC
mount and one on the low-bitrate AAC mount record what they receive, cut it into items by
the titles in the stream, decode it, and two meters we did not write judge it: pyloudnorm
(BS.1770) for each item's loudness, ffmpeg's `loudnorm` analysis for its true peak."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest

from media.analysis import analyse
from media.binaries import Tools
from playout.onair import title_hook
from playout.radio import Playable, RadioEngine
from playout.radio_channel import mounts_of
from schedules.plan import Catalogue, ChannelSpec, EntrySpec, MediaRef, PlaylistSpec, to_ms
from schedules.timeline import resolve
from station.clock import SystemClock
from streamer.encoder import Encoder
from streamer.icy import IcyReader, parse_response_head
from streamer.outputs import IcecastOutput
from streamer.relay import Relay
from tests.support import MATERIAL, make_media, music_like_input, run
from tests.test_radio_live import decode
from tests.test_radio_onair import channel_zone

pytestmark = [pytest.mark.slow, pytest.mark.runs(seconds=100)]
TARGET_LUFS = -16.0
CEILING_DBTP = -1.0
ITEM_S = 8
EDGE_S = 2.0  # skipped at each end of an item: the title in the stream is ±1 s of the audio
MOUNTS = ("/diaspor-fm.mp3", "/diaspor-fm.aac", "/diaspor-fm-64.aac")  # the last for phones
# AAC at 64 kbit/s keeps ffmpeg's band limit of 9.5 kHz (streamer/outputs.py: at 15 kHz it
# passes the ceiling): dense drums come out up to about 1 LU quieter there.
LOUDNESS_LU = {"/diaspor-fm-64.aac": 1.5}


def music_like(tools: Tools, folder: Path, i: int) -> Path:
    title = MATERIAL[i][0]
    return make_media(
        tools.ffmpeg,
        folder / f"{i}.flac",
        *music_like_input(i, ITEM_S),
        "-metadata",
        f"title={title}",
        "-c:a",
        "flac",
    )


@dataclass
class Heard:
    """What a listener received: the audio bytes, and where in them each title came."""

    audio: bytearray = field(default_factory=bytearray)
    titles: list[tuple[int, str]] = field(default_factory=list)  # (byte offset, title)

    def items(self, tools: Tools) -> dict[str, np.ndarray]:
        """The decoded audio under each title, the first time it came (decoded whole: no cut
        mid-frame inside)."""
        pcm = decode(tools, bytes(self.audio))
        per_byte = len(pcm) / max(1, len(self.audio))  # the stream is near constant rate
        out = {}
        for (at, title), (until, _) in zip(
            self.titles, [*self.titles[1:], (len(self.audio), "")], strict=True
        ):
            out.setdefault(title, pcm[round(at * per_byte) : round(until * per_byte)])
        return out


async def record(port: int, mount: str, seconds: float) -> Heard:
    """A listener on `mount`, for `seconds`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {mount} HTTP/1.0\r\nIcy-MetaData: 1\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    icy = IcyReader.from_headers(parse_response_head(head).headers)
    heard = Heard()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    try:
        while loop.time() < end:
            data = await asyncio.wait_for(reader.read(65536), timeout=5)
            assert data, f"the relay closed the listener on {mount}"
            for k in range(0, len(data), 512):  # small slices: a title lands near its bytes
                got = icy.feed(data[k : k + 512])
                for title in got.titles:
                    if not heard.titles or heard.titles[-1][1] != title:
                        heard.titles.append((len(heard.audio), title))
                heard.audio += got.audio
    finally:
        writer.close()
        await writer.wait_closed()
    return heard


def true_peak_dbtp(tools: Tools, audio: np.ndarray) -> float:
    """ffmpeg's loudnorm analysis (its own BS.1770 code, not the ebur128 filter ours uses)."""
    res = subprocess.run(
        [
            tools.ffmpeg,
            "-hide_banner",
            "-nostats",
            "-f",
            "f32le",
            "-ar",
            "48000",
            "-ac",
            "2",
            "-i",
            "pipe:0",
            "-af",
            "loudnorm=print_format=json",
            "-f",
            "null",
            "-",
        ],
        input=audio.astype("<f4").tobytes(),
        capture_output=True,
        check=True,
    )
    found = re.search(r"\{[^{}]*\"input_tp\"[^{}]*\}", res.stderr.decode())
    assert found, res.stderr.decode()[-500:]
    return float(json.loads(found.group(0))["input_tp"])


def on_air(tools: Tools, tmp_path: Path, *, limit: bool) -> dict[str, Heard]:
    media, playable = {}, {}
    for i in range(len(MATERIAL)):
        f = music_like(tools, tmp_path, i)
        a = run(analyse(tools, f, has_audio=True, probed_ms=None))
        title = MATERIAL[i][0]
        media[i + 1] = MediaRef(
            i + 1, "music", title, "Diaspor", a.duration_ms, a.cue_in_ms, a.cue_out_ms
        )
        playable[i + 1] = Playable(str(f), a.loudness_lufs, a.true_peak_dbtp)
    ids = tuple(range(1, len(MATERIAL) + 1))
    cat = Catalogue(media=media, playlists={1: PlaylistSpec(1, "Musiqi", ids)})
    channel = ChannelSpec(1, "diaspor-fm", "radio", crossfade_ms=0)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    entry = EntrySpec(
        1,
        "playlist",
        1,
        start.astimezone(channel_zone()).replace(tzinfo=None),
        duration_ms=600_000,
        hard=True,
    )

    async def go() -> dict[str, Heard]:
        relay = Relay("127.0.0.1", 0, source_password="hackme", admin_password="admin")
        await relay.start()
        outputs = [
            IcecastOutput(
                m.path, "hackme", port=relay.port, codec=m.codec, bitrate_kbps=m.bitrate_kbps
            )
            for m in mounts_of("diaspor-fm", 128, 64)
        ]
        for m in mounts_of("diaspor-fm", 128, 64):
            relay.set_bitrate(m.path, m.bitrate_kbps)
        enc = Encoder(tools.ffmpeg, outputs)
        engine = RadioEngine(
            ffmpeg=tools.ffmpeg,
            timeline=lambda a, b: resolve(
                channel,
                [entry],
                cat,
                datetime.fromtimestamp(a / 1000, UTC),
                datetime.fromtimestamp(b / 1000, UTC),
            ),
            playable=playable.get,
            origin_ms=to_ms(start),
            target_lufs=TARGET_LUFS,
            max_true_peak_dbtp=CEILING_DBTP,
            limit=limit,
        )
        engine.stream_hooks.append(title_hook(list(MOUNTS), relay.set_title))
        stop = asyncio.Event()
        air = asyncio.create_task(engine.run(SystemClock(), enc, stop))
        try:
            while {m.mount for m in relay.stats()} < set(MOUNTS):
                await asyncio.sleep(0.05)
            seconds = (start - datetime.now(UTC)).total_seconds() + ITEM_S * len(MATERIAL) + 3
            heard = await asyncio.gather(*(record(relay.port, m, seconds) for m in MOUNTS))
        finally:
            stop.set()
            await air
            await enc.close()
            await relay.stop()
        return dict(zip(MOUNTS, heard, strict=True))

    return run(go())


def measured(tools: Tools, heard: dict[str, Heard]) -> list[tuple[str, str, float, float]]:
    """(mount, item, loudness LUFS, true peak dBTP) of each item as each listener heard it."""
    meter = pyloudnorm.Meter(48000)
    out = []
    for mount, listener in heard.items():
        items = listener.items(tools)
        for title, _, _, _ in MATERIAL:
            key = f"Diaspor - {title}"
            assert key in items, f"{mount}: {title} was never announced ({list(items)})"
            audio = items[key]
            body = audio[int(EDGE_S * 48000) : len(audio) - int(EDGE_S * 48000)]
            assert len(body) > 2.5 * 48000, (mount, title, len(audio) / 48000, listener.titles)
            loudness = float(meter.integrated_loudness(body.astype(np.float64)))
            out.append((mount, title, loudness, true_peak_dbtp(tools, body)))
    return out


def test_every_item_reaches_the_target_at_the_listener_with_no_true_peak_over_the_ceiling(
    tmp_path: Path, tools: Tools
) -> None:
    results = measured(tools, on_air(tools, tmp_path, limit=True))
    table = "\n".join(f"{m} {t}: {lufs:.2f} LUFS, {tp:.2f} dBTP" for m, t, lufs, tp in results)
    print(table)  # shown with -s, and kept in the failure message
    for mount, _title, lufs, tp in results:
        assert abs(lufs - TARGET_LUFS) <= LOUDNESS_LU.get(mount, 1.0), table
        assert tp <= CEILING_DBTP, table


def test_without_the_limiter_peaky_items_miss_the_target_or_pass_the_ceiling(
    tmp_path: Path, tools: Tools
) -> None:
    """The same air with the limiter off (each item's gain held down by its own true peak,
    as before): what the test above would catch."""
    results = measured(tools, on_air(tools, tmp_path, limit=False))
    missed = [(m, t) for m, t, lufs, tp in results if lufs < TARGET_LUFS - 1 or tp > CEILING_DBTP]
    assert "Zərb — sparse hits" in {t for _, t in missed}, results
