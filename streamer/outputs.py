"""Where an encoder sends the air signal: an Icecast-compatible mount (icecast2 or the
built-in relay). Shared by the ffmpeg encoder and the Liquidsoap engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Codec = Literal["mp3", "aac"]


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
