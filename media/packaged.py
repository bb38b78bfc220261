"""What packaging leaves in storage for one video asset, and how the rest reads it.

Each publication of an asset goes to a folder of its own under `hls/assets/<media_id>/`, named
by an unguessable token (128 random bits), and the media row names the current one
(`media/publications.py`): nothing sits at a path a stranger could guess from the id.

    hls/assets/12/<token>/master.m3u8          the VOD master playlist (written last but one)
    hls/assets/12/<token>/720p/index.m3u8      one VOD media playlist per rendition
    hls/assets/12/<token>/720p/seg-00000.ts    MPEG-TS segments, the same boundaries in every rung
    hls/assets/12/<token>/audio/seg-00000.ts   the audio-only rendition, the same boundaries
    hls/assets/12/<token>/subs/az/index.m3u8   WebVTT subtitles per language, segmented alike
    hls/assets/12/<token>/subs/az/seg-00000.vtt
    hls/assets/12/<token>/poster.jpg, thumbs.jpg, thumbs.vtt
    hls/assets/12/<token>/audio.m4a            the whole sound in one file (podcast enclosures)
    hls/assets/12/<token>/package.json         this manifest (written last)

A publication never changes once written: a new package, or the same one moved when an
on-demand window closes, is a new token. Packages made before publications existed sit at
`hls/assets/12/` itself until they are moved.

`package.json` is the contract: the VOD API reads it for URLs, the TV sequencer for segment
durations. Durations are integer milliseconds (exact to the frame at the rates we use, and
sums never drift); every rendition has the same segments, so segment i of one rung and
segment i of another start and end at the same instant. The slate (station ID card) is
packaged the same way under `hls/slate/<channel>/` (in place: it is the station's public
card, not an episode), with `slate_frames` saying which frame-count each of its segments holds.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from media.storage import Storage

MANIFEST = "package.json"
VERSION = 1


TOKEN = re.compile(r"^[0-9a-f]{32}$")  # a publication's folder: 128 random bits in hex


def asset_prefix(media_id: int) -> str:
    """The asset's folder: its publications are folders inside it."""
    return f"hls/assets/{media_id}"


def new_publication(media_id: int) -> str:
    """A fresh prefix for one publication of the asset: nobody can guess it from the id."""
    return f"{asset_prefix(media_id)}/{secrets.token_hex(16)}"


def slate_prefix(channel: str) -> str:
    return f"hls/slate/{channel}"


@dataclass(frozen=True, slots=True)
class Rendition:
    name: str  # "720p", "480p", "360p", "audio"
    kind: str  # "video" (muxed video + audio) | "audio"
    bandwidth: int  # peak bits per second, as measured over the segments
    average_bandwidth: int
    codecs: str  # RFC 6381, e.g. "avc1.64001f,mp4a.40.2"
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None

    @property
    def playlist(self) -> str:
        return f"{self.name}/index.m3u8"

    def segment(self, i: int) -> str:
        return f"{self.name}/seg-{i:05d}.ts"


@dataclass(frozen=True, slots=True)
class Subtitle:
    lang: str  # az | en | ru ...
    name: str  # in its own language: "Azərbaycanca", "English", "Русский"

    @property
    def playlist(self) -> str:
        return f"subs/{self.lang}/index.m3u8"

    def segment(self, i: int) -> str:
        return f"subs/{self.lang}/seg-{i:05d}.vtt"


@dataclass(frozen=True, slots=True)
class Package:
    media_id: int | None  # None for a slate
    duration_ms: int
    segment_target_s: int
    frame_rate: float
    renditions: tuple[Rendition, ...]
    segments_ms: tuple[int, ...]  # duration of each segment, the same in every rendition
    subtitles: tuple[Subtitle, ...] = ()
    poster: str | None = "poster.jpg"
    thumbnails: str | None = "thumbs.vtt"  # WebVTT of sprite regions (thumbs.jpg#xywh=...)
    slate_frames: tuple[int, ...] = ()  # slates only: frames in each segment
    audio_file: str | None = None  # the sound in one AAC file (podcast apps want a file)
    version: int = VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    master = "master.m3u8"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> Package:
        raw = json.loads(data)
        if raw.get("version") != VERSION:
            raise ValueError(f"package manifest version {raw.get('version')} is not {VERSION}")
        return cls(
            media_id=raw["media_id"],
            duration_ms=raw["duration_ms"],
            segment_target_s=raw["segment_target_s"],
            frame_rate=raw["frame_rate"],
            renditions=tuple(Rendition(**r) for r in raw["renditions"]),
            segments_ms=tuple(raw["segments_ms"]),
            subtitles=tuple(Subtitle(**s) for s in raw.get("subtitles", ())),
            poster=raw.get("poster"),
            thumbnails=raw.get("thumbnails"),
            slate_frames=tuple(raw.get("slate_frames", ())),
            audio_file=raw.get("audio_file"),  # absent from packages made before it existed
            extra=raw.get("extra", {}),
        )

    def rendition(self, name: str) -> Rendition:
        for r in self.renditions:
            if r.name == name:
                return r
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Published:
    """A package and the prefix it is published under (its files are `prefix/<name>`)."""

    prefix: str
    package: Package

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"


def load_package(storage: Storage, prefix: str) -> Package | None:
    """The published manifest under prefix, or None when nothing is published there."""
    key = f"{prefix}/{MANIFEST}"
    if not storage.exists(key):
        return None
    with contextlib.closing(storage.open(key)) as fh:
        return Package.from_json(fh.read())
