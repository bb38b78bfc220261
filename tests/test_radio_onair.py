"""On air: the engine, paced by the real clock, feeds one encoder that streams MP3, AAC and
low-bitrate AAC to the built-in relay and writes HLS; a classic ICY listener hears the titles
change."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from media.analysis import analyse
from media.binaries import Tools
from playout.onair import title_hook
from playout.radio import Playable, RadioEngine
from schedules.plan import Catalogue, ChannelSpec, EntrySpec, MediaRef, PlaylistSpec, to_ms
from schedules.timeline import resolve
from station.clock import SystemClock
from streamer.encoder import Encoder, HlsOutput
from streamer.outputs import IcecastOutput
from streamer.relay import Relay
from tests.air_check import Heard, decode, frames, listen, tone_changes
from tests.support import run, tone

pytestmark = pytest.mark.slow
LOW = "/diaspor-fm-64.aac"  # for phones on weak networks
MOUNTS = ("/diaspor-fm.mp3", "/diaspor-fm.aac", LOW)
TITLES = [
    ("Rəşid Behbudov", "Sarı gəlin"),
    ("Zeynəb Xanlarova", "Ayrılıq"),
    ("Müslüm Maqomayev", "Azərbaycan — ğışçöü"),
]


def test_listeners_hear_the_station_with_its_titles_and_hls_is_written(
    tmp_path: Path, tools: Tools
) -> None:
    media, playable = {}, {}
    for i, (artist, title) in enumerate(TITLES, 1):
        f = tone(
            tools.ffmpeg,
            tmp_path / f"{i}.mp3",
            seconds=5,
            freq=300 + 150 * i,
            volume=0.4,
            tags={"title": title, "artist": artist},
        )
        a = run(analyse(tools, f, has_audio=True, probed_ms=None))
        media[i] = MediaRef(i, "music", title, artist, a.duration_ms, a.cue_in_ms, a.cue_out_ms)
        playable[i] = Playable(str(f), a.loudness_lufs, a.true_peak_dbtp)
    cat = Catalogue(media=media, playlists={1: PlaylistSpec(1, "Musiqi", (1, 2, 3))})
    channel = ChannelSpec(1, "diaspor-fm", "radio", crossfade_ms=500)
    now = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    entry = EntrySpec(
        1,
        "playlist",
        1,
        now.astimezone(channel_zone()).replace(tzinfo=None),
        duration_ms=600_000,
        hard=True,
    )

    async def go() -> tuple[list[str], int, list[str]]:
        relay = Relay("127.0.0.1", 0, source_password="hackme", admin_password="admin")
        await relay.start()
        hls = tmp_path / "hls"
        enc = Encoder(
            tools.ffmpeg,
            [
                IcecastOutput(
                    "/diaspor-fm.mp3", "hackme", port=relay.port, codec="mp3", name="Diaspor.FM"
                ),
                IcecastOutput("/diaspor-fm.aac", "hackme", port=relay.port, codec="aac"),
                IcecastOutput(LOW, "hackme", port=relay.port, codec="aac", bitrate_kbps=64),
                HlsOutput(hls, segment_s=2, window=5),
            ],
        )
        relay.set_bitrate(LOW, 64)
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
            origin_ms=to_ms(now),
        )
        engine.stream_hooks.append(title_hook(list(MOUNTS), relay.set_title))
        stop = asyncio.Event()
        air = asyncio.create_task(engine.run(SystemClock(), enc, stop))
        try:
            for _ in range(100):  # the encoder connects as a source within a few seconds
                if {m.mount for m in relay.stats()} >= set(MOUNTS):
                    break
                await asyncio.sleep(0.1)
            heard = [Heard(m) for m in MOUNTS]
            done = asyncio.Event()
            ears = [asyncio.create_task(listen(relay.port, h.mount, done, h)) for h in heard]
            await asyncio.sleep(10)
            done.set()
            await asyncio.gather(*ears)
        finally:
            stop.set()
            await air
            await enc.close()
            await relay.stop()
        return heard

    heard = run(go())
    wanted = [f"{a} - {t}" for a, t in TITLES]
    tones = {w: 300.0 + 150 * i for i, w in enumerate(wanted, 1)}
    for h in heard:
        # Each listener joins during the first song and hears each title change, UTF-8
        # intact, and each song's own tone in the decoded audio, in order.
        assert [t for _, t in h.titles] == wanted, h.mount
        assert [t for _, t in tone_changes(decode(tools.ffmpeg, bytes(h.audio)), tones)] == wanted
        # The stream keeps real time once the relay's connect burst is past.
        assert 0.9 < h.keeping_up(2.0) < 1.1, (h.mount, h.keeping_up(2.0))
    # The low mount is AAC-LC, stereo at 48 kHz, at 64 kbit/s at most (ADTS headers add 2.6;
    # a tone takes less than the rate allows), and far lighter than the AAC mount.
    stream = ffmpeg_banner(tools.ffmpeg, bytes(heard[2].audio))
    assert "Audio: aac (LC), 48000 Hz, stereo" in stream, stream
    high, low = (kbit_per_s(bytes(h.audio)) for h in heard[1:])
    assert 40 < low < 64 + 3 and high > 1.4 * low, (low, high)
    playlist = (tmp_path / "hls" / "index.m3u8").read_text()
    assert "#EXT-X-PROGRAM-DATE-TIME" in playlist and ".ts" in playlist
    seg = sorted((tmp_path / "hls").glob("seg-*.ts"))[-1]
    probe = subprocess.run(
        [tools.ffmpeg, "-v", "error", "-i", str(seg), "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, probe.stderr


def kbit_per_s(stream: bytes) -> float:
    """The bit rate of a received ADTS stream, by its frames (whole frames only)."""
    f = frames(stream)
    return (f.starts[-1] - f.first) * 8 / f.seconds_at(f.starts[-1]) / 1000


def ffmpeg_banner(ffmpeg: str, data: bytes) -> str:
    """What ffmpeg says of a stream's audio."""
    res = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", "pipe:0", "-f", "null", "-"], input=data, capture_output=True
    )
    return next((x for x in res.stderr.decode().splitlines() if "Audio:" in x), res.stderr.decode())


def channel_zone():  # type: ignore[no-untyped-def]
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Baku")


def test_a_killed_encoder_is_restarted_and_listeners_stay_on_the_relay(
    tmp_path: Path, tools: Tools
) -> None:
    f = tone(
        tools.ffmpeg,
        tmp_path / "x.mp3",
        seconds=30,
        volume=0.4,
        tags={"title": "Bayatı-Şiraz", "artist": "Qədir Rüstəmov"},
    )
    a = run(analyse(tools, f, has_audio=True, probed_ms=None))
    cat = Catalogue(
        media={
            1: MediaRef(
                1,
                "music",
                "Bayatı-Şiraz",
                "Qədir Rüstəmov",
                a.duration_ms,
                a.cue_in_ms,
                a.cue_out_ms,
            )
        },
        playlists={1: PlaylistSpec(1, "M", (1,))},
    )
    channel = ChannelSpec(1, "diaspor-fm", "radio")
    now = datetime.now(UTC).replace(microsecond=0)
    entry = EntrySpec(
        1, "playlist", 1, now.astimezone(channel_zone()).replace(tzinfo=None), duration_ms=600_000
    )

    async def go() -> tuple[int, int, float, int]:
        relay = Relay("127.0.0.1", 0, source_password="hackme", admin_password="admin")
        await relay.start()
        enc = Encoder(tools.ffmpeg, [IcecastOutput("/x.mp3", "hackme", port=relay.port)])
        engine = RadioEngine(
            ffmpeg=tools.ffmpeg,
            timeline=lambda a, b: resolve(
                channel,
                [entry],
                cat,
                datetime.fromtimestamp(a / 1000, UTC),
                datetime.fromtimestamp(b / 1000, UTC),
            ),
            playable={1: Playable(str(f), a.loudness_lufs, a.true_peak_dbtp)}.get,
            origin_ms=to_ms(now),
        )
        stop = asyncio.Event()
        air = asyncio.create_task(engine.run(SystemClock(), enc, stop))
        try:
            for _ in range(100):
                if relay.stats():
                    break
                await asyncio.sleep(0.1)
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port)
            writer.write(b"GET /x.mp3 HTTP/1.0\r\n\r\n")
            await reader.readuntil(b"\r\n\r\n")
            loop = asyncio.get_running_loop()
            got_before = got_after = 0
            killed_at = loop.time() + 2
            end = killed_at + 6
            killed = False
            longest_gap = 0.0
            last = loop.time()
            while loop.time() < end:
                data = await asyncio.wait_for(reader.read(65536), timeout=5)
                assert data, "the relay closed the listener"
                t = loop.time()
                if killed:
                    got_after += len(data)
                    longest_gap = max(longest_gap, t - last)
                else:
                    got_before += len(data)
                last = t
                if not killed and t >= killed_at:
                    assert enc.proc is not None
                    enc.proc.kill()  # the encoder crashes
                    killed = True
            writer.close()
            await writer.wait_closed()
        finally:
            stop.set()
            await air
            await enc.close()
            await relay.stop()
        return got_before, got_after, longest_gap, enc.restarts

    before, after, gap, restarts = run(go())
    assert restarts == 1
    assert before > 0 and after > 3 * 16_000  # audio flows again after the restart
    assert gap < 2.0  # back within two seconds, and the listener never left
