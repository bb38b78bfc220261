"""HTTP bodies (pydantic): the shape clients see, converted from the domain records."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.paging import Paged
from api.services import public_file_url
from jobs.queue import Job
from media.models import MediaItem
from media.partial_uploads import PartialUpload
from station.settings import Settings

Kind = Literal["music", "speech", "jingle", "programme", "filler", "slate"]
TagKey = Annotated[str, Field(min_length=1, max_length=40)]


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def left_out(**constraints: Any) -> Any:
    """A field of a change (a PATCH body): it may be left out, and is then left as it is. Its
    type says whether it may be null; no default is documented, since there is none."""
    return Field(default=None, json_schema_extra=_no_default, **constraints)


class SubtitleOut(BaseModel):
    lang: str
    url: str


class MediaOut(BaseModel):
    id: int
    kind: Kind
    status: Literal["pending", "ready", "failed"]
    error: str | None
    title: str
    titles: dict[str, str]
    artist: str
    album: str
    languages: list[str]
    tags: dict[str, str]
    descriptions: dict[str, str] = Field(
        default_factory=dict, description="language (az, en, ru) -> description"
    )
    original_name: str
    sha256: str
    size_bytes: int
    container: str
    audio_codec: str | None
    video_codec: str | None
    duration_ms: int | None
    channels: int | None
    sample_rate: int | None
    width: int | None
    height: int | None
    frame_rate: float | None
    bit_rate: int | None
    loudness_lufs: float | None = Field(description="EBU R128 integrated loudness")
    loudness_range_lu: float | None
    true_peak_dbtp: float | None
    cue_in_ms: int | None = Field(description="where audible content starts")
    cue_out_ms: int | None = Field(description="where audible content ends")
    artwork_url: str | None
    original_url: str | None
    subtitles: list[SubtitleOut]
    package_status: Literal["none", "queued", "packaging", "ready", "failed"] = Field(
        description="HLS packaging of a video, the latest run: ready means it was published "
        "(under a new, unguessable prefix). A package published before stays on air and on "
        "demand while the item is packaged again, and if that fails"
    )
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, m: MediaItem, settings: Settings) -> MediaOut:
        return cls(
            id=m.id,
            kind=m.kind,
            status=m.status,
            error=m.error,
            title=m.title,
            titles=m.titles,
            artist=m.artist,
            album=m.album,
            languages=m.languages,
            tags=m.tags,
            descriptions=m.descriptions,
            original_name=m.original_name,
            sha256=m.sha256,
            size_bytes=m.size_bytes,
            container=m.container,
            audio_codec=m.audio_codec,
            video_codec=m.video_codec,
            duration_ms=m.duration_ms,
            channels=m.channels,
            sample_rate=m.sample_rate,
            width=m.width,
            height=m.height,
            frame_rate=m.frame_rate,
            bit_rate=m.bit_rate,
            loudness_lufs=m.loudness_lufs,
            loudness_range_lu=m.loudness_range_lu,
            true_peak_dbtp=m.true_peak_dbtp,
            cue_in_ms=m.cue_in_ms,
            cue_out_ms=m.cue_out_ms,
            artwork_url=public_file_url(settings, m.artwork_key),
            original_url=public_file_url(settings, m.storage_key if m.status != "failed" else None),
            subtitles=[
                SubtitleOut(lang=s.lang, url=public_file_url(settings, s.storage_key) or "")
                for s in m.subtitles
            ],
            package_status=m.package_status,
            version=m.version,
            created_at=m.created_at,
            updated_at=m.updated_at,
        )


class MediaPage(Paged[MediaOut]):
    pass


class MediaPatch(BaseModel):
    """What is left out stays as it is; only the cue points may be cleared (null: from the
    start, or to the end, of the file)."""

    model_config = {"extra": "forbid"}

    title: str = left_out(min_length=1, max_length=500)
    titles: dict[Literal["az", "en", "ru"], str] = left_out()
    artist: str = left_out(max_length=500)
    album: str = left_out(max_length=500)
    kind: Kind = left_out()
    languages: list[str] = left_out()
    cue_in_ms: int | None = left_out(ge=0)
    cue_out_ms: int | None = left_out(gt=0)
    descriptions: dict[Literal["az", "en", "ru"], Annotated[str, Field(max_length=5000)]] = (
        left_out()
    )
    tags: dict[TagKey, Annotated[str, Field(max_length=500)]] = left_out(
        max_length=50, description="replaces all of the item's tags (at most 50)"
    )


class JobOut(BaseModel):
    id: int
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    message: str
    error: str | None
    attempts: int
    max_attempts: int
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, j: Job) -> JobOut:
        return cls(
            id=j.id,
            kind=j.kind,
            status=j.status,
            progress=j.progress,
            message=j.message,
            error=j.error,
            attempts=j.attempts,
            max_attempts=j.max_attempts,
            created_at=j.created_at,
            finished_at=j.finished_at,
        )


class UploadOut(BaseModel):
    media: MediaOut
    created: bool = Field(description="false when the same file was already in the library")
    job: JobOut | None = Field(description="the analysis job; poll /api/v1/jobs/{id}")


class PeaksOut(BaseModel):
    """A media item's waveform: the lowest and highest sample of each 1/`peaks_per_second` s
    of its sound, mono, as fractions of full scale."""

    duration_ms: int
    peaks_per_second: int
    peaks: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        description="[min, max] per step, each -1..1"
    )


class UploadStateOut(BaseModel):
    """A resumable upload (tus), as the console follows it."""

    id: str
    filename: str
    length: int = Field(description="the announced size, in bytes")
    offset: int = Field(description="the bytes the station has")
    media_id: int | None = Field(description="the media item it became, once whole")
    job_id: str | None = Field(description="that item's analysis job (GET /api/v1/jobs/{id})")

    @classmethod
    def of(cls, up: PartialUpload) -> UploadStateOut:
        job = str(up.job_id) if up.job_id is not None else None
        return cls(**{f: getattr(up, f) for f in cls.model_fields if f != "job_id"}, job_id=job)


class ChannelHealth(BaseModel):
    status: Literal["ok", "degraded"]
    degraded: dict[str, str] | None = Field(
        default=None,
        description="Each part that is degraded, and why (for signed-in admins only).",
    )


class Health(BaseModel):
    """What anyone may know: whether the station is well. The database kind, the storage
    and ffmpeg in use, and why a part is degraded are for signed-in admins only (they name
    paths, buckets and hosts)."""

    status: Literal["ok", "degraded", "failed"]
    database_reachable: bool
    channels: dict[str, ChannelHealth] = Field(
        default_factory=dict,
        description="Channels on air in this process or followed from a playout process.",
    )
    database: str | None = Field(default=None, description="admins only")
    storage: str | None = Field(default=None, description="admins only")
    ffmpeg: str | None = Field(default=None, description="admins only")


class TrackOut(BaseModel):
    """An item on air (`playout.nowplaying.Track`), named in the language asked for."""

    title: str = Field(
        description="in the language asked for where the episode or media item has one"
    )
    artist: str
    kind: str = Field(description="what it is: its media's kind (music, programme …), filler")
    media_id: int | None = Field(description="the library's item; null when none plays")
    programme_id: int | None = Field(description="the programme it is part of, if any")
    programme: str | None = Field(description="that programme's slug")
    programme_title: str | None = Field(description="that programme's title, in the language")
    episode_id: int | None = Field(description="the episode it is, if any (/api/v1/episodes/…)")
    started_at: datetime = Field(description="when it starts (or started) on air")
    ends_at: datetime
    duration_ms: int
    artwork: str | None = Field(description="URL of its artwork or poster frame")


class CurrentTrackOut(TrackOut):
    elapsed_ms: int = Field(description="how far in it is, at the moment of the request")
    remaining_ms: int


class PlayedOut(BaseModel):
    title: str
    artist: str
    kind: str
    media_id: int | None
    started_at: datetime
    outcome: str = Field(description="played, cut-short or live (the as-run log's word)")


class NowPlayingOut(BaseModel):
    """What is on air on one channel. Documents the body `api/routes/nowplaying.py` makes as
    a dict (made once a second for every reader, it is not built through this model)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "diaspor-fm",
                    "lang": "en",
                    "current": {
                        "title": "Homeland Is Not Far: the letter",
                        "artist": "",
                        "kind": "programme",
                        "media_id": 41,
                        "programme_id": 3,
                        "programme": "veten-uzaqda-deyil",
                        "programme_title": "Homeland Is Not Far",
                        "episode_id": 12,
                        "started_at": "2026-12-03T20:00:00+04:00",
                        "ends_at": "2026-12-03T20:52:30+04:00",
                        "duration_ms": 3150000,
                        "artwork": "https://radio.example/files/art/41.jpg",
                        "elapsed_ms": 61000,
                        "remaining_ms": 3089000,
                    },
                    "next": [],
                    "live": False,
                    "presenter": None,
                    "seq": 118,
                    "history": [
                        {
                            "title": "Ayrılıq",
                            "artist": "Zeynəb Xanlarova",
                            "kind": "music",
                            "media_id": 7,
                            "started_at": "2026-12-03T19:56:10+04:00",
                            "outcome": "played",
                        }
                    ],
                    "listeners": 214,
                }
            ]
        },
    )

    channel: str = Field(description="the channel's slug")
    lang: Literal["az", "en", "ru"] = Field(description="the language of the titles")
    current: CurrentTrackOut | None
    next: list[TrackOut]
    live: bool
    presenter: str | None
    seq: int = Field(description="increases with every change: the SSE event id")
    history: list[PlayedOut] = Field(description="what played before, the latest first")
    listeners: int | None = Field(description="null when this process cannot count them")


class NowPlayingPage(Paged[NowPlayingOut]):
    pass
