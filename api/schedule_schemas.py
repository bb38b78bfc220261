"""HTTP bodies of the schedule: what editors send and read back, and the public guide."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from api.links import ChannelLinks
from api.paging import Paged

Texts = dict[Literal["az", "en", "ru"], str]


def _naive(v: datetime) -> datetime:
    if v.tzinfo is not None:
        raise ValueError("give the local wall-clock time in the channel's zone, without offset")
    return v


if TYPE_CHECKING:
    UtcInstant = datetime
    LocalDateTime = datetime
else:

    class UtcInstant:
        """An instant given with its offset, kept in UTC; one without an offset is refused.

        A type rather than a validator, so PATCH bodies (made field by field from the create
        body) check it too.
        """

        @classmethod
        def __get_pydantic_core_schema__(
            cls, source: Any, handler: GetCoreSchemaHandler
        ) -> core_schema.CoreSchema:
            return core_schema.no_info_after_validator_function(
                lambda v: v.astimezone(UTC), core_schema.datetime_schema(tz_constraint="aware")
            )

    class LocalDateTime:
        """A wall-clock time in the channel's zone, given without an offset (one with an
        offset is refused). A type, as UtcInstant is. JSON Schema's "date-time" needs an offset
        (RFC 3339), so it is described by its pattern."""

        @classmethod
        def __get_pydantic_core_schema__(
            cls, source: Any, handler: GetCoreSchemaHandler
        ) -> core_schema.CoreSchema:
            return core_schema.no_info_after_validator_function(
                _naive, core_schema.datetime_schema()
            )

        @classmethod
        def __get_pydantic_json_schema__(
            cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
        ) -> JsonSchemaValue:
            return {
                "type": "string",
                "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
                "examples": ["2026-12-01T10:00:00"],
            }


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StreamIn(Strict):
    url: str = Field(min_length=1, max_length=1000)
    format: Literal["mp3", "aac", "hls"]
    bitrate: int | None = Field(default=None, ge=8, le=20_000)


class ChannelIn(Strict):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    kind: Literal["radio", "tv"]
    names: Texts
    descriptions: Texts = {}
    logo_url: str | None = Field(default=None, max_length=1000)
    timezone: str = "Asia/Baku"
    loudness_target_lufs: float = Field(default=-16.0, ge=-36, le=-5)
    true_peak_max_dbtp: float = Field(default=-1.0, ge=-9, le=0)
    crossfade_ms: int = Field(default=0, ge=0, le=15_000)
    filler_playlist_id: int | None = None
    slate_media_id: int | None = None
    freeze_horizon_s: int = Field(default=120, ge=0, le=86_400)
    streams: list[StreamIn] = Field(default=[], description="extra published stream URLs")


class ProgrammeIn(Strict):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    titles: Texts
    descriptions: Texts = {}
    artwork_media_id: int | None = None
    presenters: list[str] = []
    categories: list[str] = []


class EpisodeIn(Strict):
    programme_id: int
    season: int | None = Field(default=None, ge=1)
    number: int | None = Field(default=None, ge=1)
    titles: Texts = {}
    descriptions: Texts = {}
    media_id: int | None = None
    air_date: date | None = Field(default=None, description="first broadcast (channel's zone)")
    available_from: UtcInstant | None = Field(
        default=None,
        description="on demand from this instant (with an offset); empty: once it has aired "
        "(an airing in the as-run log, or its air_date has come)",
    )
    available_until: UtcInstant | None = Field(
        default=None, description="on demand until this instant; empty: for good"
    )


class PlaylistIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    shuffle: bool = False
    media_ids: list[int] = []
    artist_separation_s: int = Field(default=0, ge=0, le=86_400)
    track_separation_s: int = Field(default=0, ge=0, le=7 * 86_400)


class ClockSlotIn(Strict):
    at_s: int = Field(ge=0, le=3599, description="second of the hour")
    source: Literal["media", "playlist"]
    ref_id: int
    fill: bool = Field(default=False, description="repeat the source until the next slot")
    hard: bool = False
    title: str = ""


class ClockIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    slots: list[ClockSlotIn] = Field(min_length=1)


class EntryIn(Strict):
    channel_id: int
    target_type: Literal["programme", "playlist", "clock", "media"]
    target_id: int
    episode_id: int | None = None
    titles: Texts = {}
    start_local: LocalDateTime = Field(description="wall-clock start in the channel's time zone")
    rrule: str | None = Field(default=None, description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=SU")
    exdates: list[LocalDateTime] = Field(default=[], description="local starts that are skipped")
    duration_ms: int | None = Field(default=None, gt=0, description="empty: as long as the content")
    hard: bool = True


class Stored(BaseModel):
    id: int
    version: int
    created_at: datetime
    updated_at: datetime


class ChannelOutEditor(ChannelIn, Stored):
    model_config = ConfigDict(extra="ignore")


class ProgrammeOut(ProgrammeIn, Stored):
    model_config = ConfigDict(extra="ignore")


class EpisodeOut(EpisodeIn, Stored):
    model_config = ConfigDict(extra="ignore")


class PlaylistOut(PlaylistIn, Stored):
    model_config = ConfigDict(extra="ignore")


class ClockOut(ClockIn, Stored):
    model_config = ConfigDict(extra="ignore")


class EntryOut(EntryIn, Stored):
    model_config = ConfigDict(extra="ignore")
    effective_from: datetime | None = Field(description="edits take effect from here")
    effective_until: datetime | None


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    resource: str
    resource_id: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None


# --- public ------------------------------------------------------------------------------


class StreamOut(BaseModel):
    url: str
    format: Literal["mp3", "aac", "hls"]
    bitrate: int | None


class RelayOut(BaseModel):
    name: str = Field(description="the relay's name, as the station calls it")
    region: str = Field(description="where it serves, in words")
    streams: list[StreamOut] = Field(
        description="the channel's Icecast mounts (not HLS) on this relay, as in `streams`"
    )


class ChannelOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "slug": "diaspor-fm",
                    "kind": "radio",
                    "name": "Diaspor.FM",
                    "description": "The radio of Azerbaijanis around the world",
                    "logo": None,
                    "timezone": "Asia/Baku",
                    "streams": [
                        {
                            "url": "https://diaspor.example/listen/diaspor-fm.mp3",
                            "format": "mp3",
                            "bitrate": 128,
                        },
                        {
                            "url": "https://diaspor.example/listen/diaspor-fm.aac",
                            "format": "aac",
                            "bitrate": 128,
                        },
                        {
                            "url": "https://diaspor.example/listen/diaspor-fm-64.aac",
                            "format": "aac",
                            "bitrate": 64,
                        },
                        {
                            "url": "https://diaspor.example/files/hls/radio/diaspor-fm/master.m3u8",
                            "format": "hls",
                            "bitrate": 128,
                        },
                    ],
                    "relays": [
                        {
                            "name": "eu",
                            "region": "Europe",
                            "streams": [
                                {
                                    "url": "https://eu.diaspor.example/listen/diaspor-fm.mp3",
                                    "format": "mp3",
                                    "bitrate": 128,
                                },
                                {
                                    "url": "https://eu.diaspor.example/listen/diaspor-fm.aac",
                                    "format": "aac",
                                    "bitrate": 128,
                                },
                                {
                                    "url": "https://eu.diaspor.example/listen/diaspor-fm-64.aac",
                                    "format": "aac",
                                    "bitrate": 64,
                                },
                            ],
                        },
                        {
                            "name": "us",
                            "region": "North America",
                            "streams": [
                                {
                                    "url": "https://us.diaspor.example/listen/diaspor-fm.mp3",
                                    "format": "mp3",
                                    "bitrate": 128,
                                },
                                {
                                    "url": "https://us.diaspor.example/listen/diaspor-fm.aac",
                                    "format": "aac",
                                    "bitrate": 128,
                                },
                                {
                                    "url": "https://us.diaspor.example/listen/diaspor-fm-64.aac",
                                    "format": "aac",
                                    "bitrate": 64,
                                },
                            ],
                        },
                    ],
                    "links": {
                        "self": "https://diaspor.example/api/v1/channels/diaspor-fm",
                        "now_playing": "https://diaspor.example/api/v1/channels/diaspor-fm/now-playing",
                        "now_playing_events": "https://diaspor.example/api/v1/channels/diaspor-fm/now-playing/events",
                        "schedule": "https://diaspor.example/api/v1/channels/diaspor-fm/schedule",
                        "calendar": "https://diaspor.example/api/v1/channels/diaspor-fm/schedule.ics",
                        "logo": None,
                        "player": "https://diaspor.example/",
                        "embed": "https://diaspor.example/embed/radio/diaspor-fm",
                    },
                }
            ]
        }
    )

    slug: str
    kind: Literal["radio", "tv"]
    name: str
    description: str
    logo: str | None
    timezone: str
    streams: list[StreamOut] = Field(
        description="every way to listen or watch: each format and bitrate, HLS included"
    )
    relays: list[RelayOut] = Field(
        description="a radio channel on air: its regional relays, each with the channel's "
        "Icecast mounts; those serving the listener's country first (`?country=`, else the "
        "country the station's edge names), then the others in the station's order. Empty "
        "for TV, a channel off air, or a station without relays"
    )
    links: ChannelLinks


class ChannelPage(Paged[ChannelOut]):
    pass


class AuditPage(Paged[AuditOut]):
    pass


class GuideItemOut(BaseModel):
    start: datetime
    end: datetime
    kind: str
    title: str
    artist: str
    media_id: int | None


class GuideBlockOut(BaseModel):
    start: datetime
    end: datetime
    kind: Literal["programme", "music", "filler", "speech", "jingle", "slate", "live"] | str
    title: str
    subtitle: str | None
    description: str | None
    categories: list[str]
    programme: str | None = Field(description="the programme's slug")
    season: int | None
    episode: int | None
    artwork: str | None
    items: list[GuideItemOut] | None = Field(description="with ?items=true: each track")


class ScheduleOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "diaspor-fm",
                    "timezone": "Asia/Baku",
                    "tz": "America/Toronto",
                    "lang": "en",
                    "start": "2026-11-29T00:00:00-05:00",
                    "end": "2026-11-30T00:00:00-05:00",
                    "blocks": [
                        {
                            "start": "2026-11-29T11:00:00-05:00",
                            "end": "2026-11-29T11:52:30-05:00",
                            "kind": "programme",
                            "title": "Homeland Is Not Far",
                            "subtitle": "Berlin",
                            "description": "Interviews with compatriots abroad",
                            "categories": ["Documentary"],
                            "programme": "veten-uzaqda-deyil",
                            "season": 1,
                            "episode": 3,
                            "artwork": None,
                            "items": None,
                        }
                    ],
                }
            ]
        }
    )

    channel: str
    timezone: str = Field(description="the channel's own zone (its schedule is made in it)")
    tz: str | None = Field(
        description="the zone asked for with `?tz=`: the times are given in it, and `date` is "
        "its day; null: the times are in UTC, and days are the channel's"
    )
    lang: Literal["az", "en", "ru"]
    start: datetime
    end: datetime
    blocks: list[GuideBlockOut]


# --- on-air controls ---------------------------------------------------------------------


class PlayNowIn(BaseModel):
    media_id: int = Field(
        ge=1,
        le=2**63 - 1,
        description="the media to put on air: ready, sound alone on a radio channel, video on TV",
    )


class ActionOut(BaseModel):
    """An operator's action, accepted: it takes effect at `at`, seconds from now, on every
    playout at once; the as-run log shows what aired."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"action_id": 12, "at": "2026-12-03T17:00:03Z"}]}
    )

    action_id: int
    at: datetime = Field(description="when it takes effect (UTC): the station's now plus a lead")
