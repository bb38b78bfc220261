"""The radio's HLS as an audio ladder: its rungs (the channel's bit rate and a lower one for
phones on weak networks), the names of their files, and the master playlist listing them.
Pure.

Every rung is encoded by the same ffmpeg from the same PCM, each by its own HLS muxer with
the same segment length. AAC frames are 1024 samples in every rung, so the muxers cut at the
same frame: segment n of one rung covers the same audio as segment n of the other, with the
same media sequence number and, once `streamer/hls_dates.py` has dated both from the run's
first sample, the same program-date-time. A player switches rungs without a jump.

The top rung keeps the names the radio's HLS had before there was a ladder (`index.m3u8`,
`seg-<start>-<n>.ts`), so players and links that use `index.m3u8` keep working; a lower
rung is named by its bit rate (`index-64.m3u8`, `seg64-<start>-<n>.ts`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from media.hls import Variant
from media.hls import master_playlist as render_master
from streamer.encoder import PLAYLIST_NAME
from streamer.hls_dates import ENCODER_PLAYLIST
from streamer.outputs import low_rate

MASTER_PLAYLIST = "master.m3u8"
AAC_LC = "mp4a.40.2"
# What ffmpeg's MPEG-TS muxer adds to the AAC it is given (ADTS, PES and TS packet headers,
# stuffing): 10–11 % at 64 and 128 kbit/s, measured on music-like material; and the PAT, PMT
# and SDT packets that open every segment.
MUX_OVERHEAD = 0.11
TABLES_BITS = 3 * 188 * 8
# ffmpeg's AAC encoder holds its rate closely: its peak over any second to three, RFC 8216's
# measure, is 2–3 % above its average on bursts of noise. BANDWIDTH, a peak, is given this
# much more than the average, room for denser music: a player that trusts it never finds a
# rung heavier than it said.
PEAK_MARGIN = 0.10


@dataclass(frozen=True, slots=True)
class AudioRung:
    bitrate_kbps: int
    top: bool = False  # the channel's own bit rate, under the names from before the ladder

    @property
    def playlist(self) -> str:
        """The public media playlist, dated by the air."""
        return PLAYLIST_NAME if self.top else f"index-{self.bitrate_kbps}.m3u8"

    @property
    def encoder_playlist(self) -> str:
        """ffmpeg's own playlist (not a *.m3u8, so never served)."""
        if self.top:
            return ENCODER_PLAYLIST
        stem, ext = ENCODER_PLAYLIST.rsplit(".", 1)
        return f"{stem}-{self.bitrate_kbps}.{ext}"

    @property
    def segment_prefix(self) -> str:
        return "seg" if self.top else f"seg{self.bitrate_kbps}"


def audio_ladder(top_kbps: int, low_kbps: int | None) -> tuple[AudioRung, ...]:
    """The rungs, lowest first: the low one only when there is one below the top."""
    top = AudioRung(top_kbps, top=True)
    low = low_rate(top_kbps, low_kbps)
    return (top,) if low is None else (AudioRung(low), top)


def bit_rates(bitrate_kbps: int, segment_s: int) -> tuple[int, int]:
    """(BANDWIDTH, AVERAGE-BANDWIDTH) in bits/s of a rung's segments as ffmpeg writes them.

    A live playlist's master is written before its segments exist, so RFC 8216's measured
    figures are estimated from the encoder's rate; tests/test_radio_ladder.py holds the real
    segments to them."""
    average = bitrate_kbps * 1000 * (1 + MUX_OVERHEAD) + TABLES_BITS / segment_s
    return math.ceil(average * (1 + PEAK_MARGIN)), math.ceil(average)


def master_playlist(rungs: Sequence[AudioRung], segment_s: int) -> str:
    """The master playlist: every rung, audio-only AAC-LC, lowest BANDWIDTH first."""
    variants = []
    for rung in sorted(rungs, key=lambda r: r.bitrate_kbps):
        peak, average = bit_rates(rung.bitrate_kbps, segment_s)
        variants.append(Variant(rung.playlist, peak, average, AAC_LC))
    return render_master(variants, ())
