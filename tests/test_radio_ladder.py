"""Radio for mobile data: a low-bitrate AAC mount beside MP3 and AAC, and the radio's HLS as an
audio ladder (the channel's rate and a low one) behind a master playlist, both rungs cut and
dated alike so a phone switches between them without a jump."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from diaspor.radio import streams_of
from media.binaries import Tools
from media.segments import average_bit_rate, peak_bit_rate
from playout.radio_channel import Mount, mounts_of
from streamer.encoder import Encoder, HlsOutput, encoder_args
from streamer.hls_dates import HlsDates
from streamer.hls_ladder import (
    MASTER_PLAYLIST,
    AudioRung,
    audio_ladder,
    bit_rates,
    master_playlist,
)
from streamer.icy import metaint_for
from streamer.outputs import IcecastOutput
from tests.air_check import master_variants
from tests.conftest import settings_for
from tests.support import music_like_input, run

START_MS = 1_796_223_600_400
SEGMENT_S = 2


def test_the_top_rung_keeps_the_old_names_and_the_low_one_is_named_by_its_rate() -> None:
    low, top = audio_ladder(128, 64)
    assert (top.bitrate_kbps, top.playlist, top.encoder_playlist, top.segment_prefix) == (
        128,
        "index.m3u8",
        "encoder.live",
        "seg",
    )
    assert (low.bitrate_kbps, low.playlist, low.encoder_playlist, low.segment_prefix) == (
        64,
        "index-64.m3u8",
        "encoder-64.live",
        "seg64",
    )


@pytest.mark.parametrize("low", [None, 0, 128, 192])
def test_there_is_no_low_rung_or_mount_unless_it_is_below_the_channel(low: int | None) -> None:
    assert audio_ladder(128, low) == (AudioRung(128, top=True),)
    assert [m.path for m in mounts_of("diaspor-fm", 128, low)] == [
        "/diaspor-fm.mp3",
        "/diaspor-fm.aac",
    ]


def test_a_channel_has_mp3_aac_and_a_low_aac_mount() -> None:
    assert mounts_of("diaspor-fm", 128, 64) == (
        Mount("/diaspor-fm.mp3", "mp3", 128),
        Mount("/diaspor-fm.aac", "aac", 128),
        Mount("/diaspor-fm-64.aac", "aac", 64),
    )
    # Its titles come as often for the time they take: half a second of audio.
    assert [metaint_for(k) for k in (320, 128, 64, 32)] == [8192, 8192, 4096, 2048]


def test_the_master_lists_both_rungs_lowest_first_as_audio_only_aac_lc() -> None:
    assert master_playlist(audio_ladder(128, 64), 6).splitlines() == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        '#EXT-X-STREAM-INF:BANDWIDTH=78972,AVERAGE-BANDWIDTH=71792,CODECS="mp4a.40.2"',
        "index-64.m3u8",
        '#EXT-X-STREAM-INF:BANDWIDTH=157116,AVERAGE-BANDWIDTH=142832,CODECS="mp4a.40.2"',
        "index.m3u8",
    ]
    # Shorter segments carry the tables that open each one more often.
    assert bit_rates(64, 2)[1] > bit_rates(64, 6)[1] > 64_000


def test_the_encoder_writes_each_rung_and_mount_with_its_own_names_and_band_limit(
    tmp_path: Path,
) -> None:
    outputs = [
        IcecastOutput("/diaspor-fm.aac", "pw", codec="aac", bitrate_kbps=128),
        IcecastOutput("/diaspor-fm-64.aac", "pw", codec="aac", bitrate_kbps=64),
        *(
            HlsOutput(
                tmp_path,
                bitrate_k=r.bitrate_kbps,
                playlist=r.encoder_playlist,
                segment_prefix=r.segment_prefix,
            )
            for r in audio_ladder(128, 64)
        ),
    ]
    args = encoder_args("ffmpeg", outputs, start_ms=START_MS)
    # Each output's arguments run from its -map to the next.
    starts = [i for i, a in enumerate(args) if a == "-map"]
    parts = [args[a:b] for a, b in zip(starts, [*starts[1:], len(args)], strict=True)]
    assert [p[p.index("-b:a") + 1] for p in parts] == ["128k", "64k", "64k", "128k"]
    # 15 kHz for 128 kbit/s; the encoder's own, lower, band limit at 64.
    assert ["-cutoff" in p for p in parts] == [True, False, False, True]
    assert parts[2][-2:] == [
        str(tmp_path / f"seg64-{START_MS}-%06d.ts"),
        str(tmp_path / "encoder-64.live"),
    ]
    assert parts[3][-2:] == [
        str(tmp_path / f"seg-{START_MS}-%06d.ts"),
        str(tmp_path / "encoder.live"),
    ]


def test_the_channel_lists_every_format_and_bit_rate(tmp_path: Path) -> None:
    s = settings_for(tmp_path, "sqlite://", relay_public_url="http://radio.example")
    assert streams_of(s, "diaspor-fm", hls=True) == [
        {"url": "http://radio.example/diaspor-fm.mp3", "format": "mp3", "bitrate": 128},
        {"url": "http://radio.example/diaspor-fm.aac", "format": "aac", "bitrate": 128},
        {"url": "http://radio.example/diaspor-fm-64.aac", "format": "aac", "bitrate": 64},
        {
            "url": f"{s.base_url}/files/hls/radio/diaspor-fm/master.m3u8",
            "format": "hls",
            "bitrate": 128,  # the top rung's
        },
    ]
    without = settings_for(tmp_path, "sqlite://", radio_low_bitrate_kbps=0)
    assert [st["format"] for st in streams_of(without, "diaspor-fm", hls=False)] == ["mp3", "aac"]


# --- the ladder written by a real encoder ----------------------------------------------------


def media_playlist(text: str) -> tuple[int, list[tuple[int, str, str, str]]]:
    """(EXT-X-MEDIA-SEQUENCE, [(segment number, EXTINF, PROGRAM-DATE-TIME, URI)])."""
    sequence = int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)[1])  # type: ignore[index]
    out, extinf, date = [], "", ""
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            extinf = line[8:]
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            date = line.split(":", 1)[1]
        elif line and not line.startswith("#"):
            out.append((int(line.rsplit("-", 1)[1].split(".")[0]), extinf, date, line))
    return sequence, out


def decoded_samples(ffmpeg: str, path: Path) -> tuple[int, str]:
    """How many samples a segment decodes to, alone, and what ffmpeg says its stream is."""
    res = subprocess.run(
        [ffmpeg, "-hide_banner", "-i", str(path), "-ac", "1", "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    )
    stream = next(x for x in res.stderr.decode().splitlines() if "Audio:" in x)
    return len(res.stdout) // 2, stream


@pytest.mark.slow
def test_both_rungs_are_cut_and_dated_alike_and_within_the_masters_bandwidth(
    tmp_path: Path, tools: Tools
) -> None:
    """One encoder run, as fast as ffmpeg goes, of 15 s of noise bursts (music-like: the
    encoders run at their rates): the two public playlists name the same segments with the
    same durations and dates, each pair holds the same samples, and the real segments stay
    under what the master says."""
    folder = tmp_path / "hls"
    ladder = audio_ladder(128, 64)
    pcm = subprocess.run(
        [tools.ffmpeg, "-v", "error", *music_like_input(1, 15, rate=48_000), "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    written = [0]

    async def go() -> None:
        outputs = [
            HlsOutput(
                folder,
                segment_s=SEGMENT_S,
                bitrate_k=r.bitrate_kbps,
                playlist=r.encoder_playlist,
                segment_prefix=r.segment_prefix,
            )
            for r in ladder
        ]
        enc = Encoder(tools.ffmpeg, outputs, on_air_ms=lambda: START_MS + written[0] // 192)
        for k in range(0, len(pcm), 19_200):
            await enc.write(pcm[k : k + 19_200])
            written[0] += len(pcm[k : k + 19_200])
        await enc.close()

    run(go())
    dates = HlsDates(
        folder,
        playlists=[(r.encoder_playlist, r.playlist) for r in ladder],
        master=(MASTER_PLAYLIST, master_playlist(ladder, SEGMENT_S)),
    )
    assert dates.once()

    variants = master_variants((folder / MASTER_PLAYLIST).read_text())
    assert [uri for _, uri in variants] == ["index-64.m3u8", "index.m3u8"]
    assert all(a["CODECS"] == "mp4a.40.2" for a, _ in variants)
    bandwidths = [int(a["BANDWIDTH"]) for a, _ in variants]
    assert bandwidths == sorted(bandwidths) and bandwidths[0] < bandwidths[1]

    low_seq, low = media_playlist((folder / "index-64.m3u8").read_text())
    top_seq, top = media_playlist((folder / "index.m3u8").read_text())
    assert len(top) >= 7 and low_seq == top_seq
    # Segment n of one rung is segment n of the other: number, duration, date.
    assert [x[:3] for x in low] == [x[:3] for x in top]
    assert top[0][2] == "2026-12-02T15:00:00.400Z"  # the run's first sample on air
    for (_, _, _, low_uri), (_, _, _, top_uri) in zip(low, top, strict=True):
        low_n, low_stream = decoded_samples(tools.ffmpeg, folder / low_uri)
        top_n, top_stream = decoded_samples(tools.ffmpeg, folder / top_uri)
        assert low_n == top_n > 0
        assert "aac (LC)" in low_stream and "48000 Hz, stereo" in low_stream, low_stream
        assert "aac (LC)" in top_stream, top_stream

    for (attrs, uri), rung in zip(variants, ladder, strict=True):
        _, segments = media_playlist((folder / uri).read_text())
        sizes = [(folder / s[3]).stat().st_size for s in segments]
        durations = [round(float(s[1].rstrip(",")) * 1000) for s in segments]
        peak = peak_bit_rate(sizes, durations, SEGMENT_S)
        average = average_bit_rate(sizes, durations)
        assert peak <= int(attrs["BANDWIDTH"]), (rung, peak, attrs)
        assert 0.97 * int(attrs["AVERAGE-BANDWIDTH"]) <= average, (rung, average, attrs)
        assert average <= int(attrs["AVERAGE-BANDWIDTH"]), (rung, average, attrs)
