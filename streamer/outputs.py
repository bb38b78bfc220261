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
# (name, value) pairs of ffmpeg options, as `-name value` or Liquidsoap's `%audio(name=value)`.
AAC_OPTIONS = (("aac_coder", "fast"), ("cutoff", "15000"))


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
