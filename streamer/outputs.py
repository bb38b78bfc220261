"""Where an encoder sends the air signal (an Icecast-compatible mount: icecast2 or the
built-in relay), and how MP3 and AAC are encoded for it. Shared by the ffmpeg encoder and the
Liquidsoap engine, so that either engine sends listeners the same encoding."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Codec = Literal["mp3", "aac"]

# LAME's algorithm quality (0 best ... 9 fastest) for every MP3 the station encodes: 2, which
# LAME recommends ("near-best quality, not too slow") and Liquidsoap's %mp3 uses by default.
# ffmpeg's libmp3lame uses 5 unless told ("good speed, reasonable quality"): left there, our
# engine would send a cheaper, lesser MP3 than Liquidsoap's and look faster for it.
LAME_QUALITY = 2
# ffmpeg's AAC encoder: its default search (twoloop) lets transients overshoot what it is
# given by 2 dB or more, past the channel's true-peak ceiling at the listener; `fast`, coding
# up to 15 kHz (where 128 kbit/s AAC spends its bits anyway), stays within the limiter's
# codec margin (about 1 dB on peaky material, measured on decoded audio), and costs less CPU.
# Below 96 kbit/s the encoder's own band limit is lower than 15 kHz (9.5 kHz for stereo at
# 64 kbit/s) and is kept: forced up to 15 kHz, 64 kbit/s spreads its bits thin and drums
# overshoot by 2 dB again; at its own limit they stay within about half a dB.
# (name, value) pairs of ffmpeg options, as `-name value` or Liquidsoap's `%audio(name=value)`.
AAC_OPTIONS = (("aac_coder", "fast"), ("cutoff", "15000"))
AAC_LOW_OPTIONS = (("aac_coder", "fast"),)
AAC_CUTOFF_FROM_KBPS = 96  # at and above: the 15 kHz cutoff (ffmpeg's own is 15 kHz at 96)


def low_rate(bitrate_kbps: int, low_kbps: int | None) -> int | None:
    """The rate of a channel's low AAC mount and HLS rung: `low_kbps` when it is below the
    channel's own rate, else None (no low one)."""
    return low_kbps if low_kbps is not None and 0 < low_kbps < bitrate_kbps else None


def aac_options(bitrate_kbps: int | None) -> tuple[tuple[str, str], ...]:
    """The AAC options for a bit rate (None: the encoder's default, 128 kbit/s)."""
    if bitrate_kbps is not None and bitrate_kbps < AAC_CUTOFF_FROM_KBPS:
        return AAC_LOW_OPTIONS
    return AAC_OPTIONS


@dataclass(frozen=True, slots=True)
class IcecastOutput:
    """One mount on an Icecast-compatible server (icecast2 or the built-in relay)."""

    mount: str
    password: str = field(repr=False)
    host: str = "127.0.0.1"
    port: int = 8000
    codec: Codec = "mp3"
    bitrate_kbps: int = 128
    user: str = "source"
    name: str = ""
    genre: str = ""
    url: str = ""
    description: str = ""
