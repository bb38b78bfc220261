"""HTTP bodies of the on-demand catalogue (public): programmes, seasons, episodes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from api.links import EpisodeLinks, EpisodeSummaryLinks, ProgrammeLinks
from api.paging import Paged

Texts = dict[str, str]


class AvailabilityOut(BaseModel):
    on_demand: bool
    reason: Literal["not-packaged", "not-yet", "expired"] | None = Field(
        description="why it is not on demand (null when it is)"
    )
    available_from: datetime | None = Field(
        description="when it is (or was, or will be) first on demand: the editors' start, "
        "else its first airing; null when not known yet"
    )
    available_until: datetime | None = Field(description="when it stops being on demand")


PROGRAMME_EXAMPLE: JsonDict = {
    "slug": "veten-uzaqda-deyil",
    "title": "Homeland Is Not Far",
    "description": "A monthly programme on the life of the diaspora",
    "titles": {
        "az": "Vətən uzaqda deyil",
        "en": "Homeland Is Not Far",
        "ru": "Родина недалеко",
    },
    "descriptions": {"en": "A monthly programme on the life of the diaspora"},
    "categories": ["Documentary"],
    "presenters": ["Aysel Məmmədova"],
    "artwork": "https://diaspor.example/files/art/41.jpg",
    "episodes": 12,
    "episodes_on_demand": 10,
    "links": {
        "self": "https://diaspor.example/api/v1/programmes/veten-uzaqda-deyil",
        "page": "https://diaspor.example/programmes/veten-uzaqda-deyil",
        "episodes": "https://diaspor.example/api/v1/programmes/veten-uzaqda-deyil/episodes",
        "podcast": "https://diaspor.example/api/v1/programmes/veten-uzaqda-deyil/podcast.xml",
        "calendar": "https://diaspor.example/api/v1/programmes/veten-uzaqda-deyil/schedule.ics",
    },
}
EPISODE_LINKS: JsonDict = {
    "self": "https://diaspor.example/api/v1/episodes/12",
    "share": "https://diaspor.example/episodes/12",
    "programme": "https://diaspor.example/api/v1/programmes/veten-uzaqda-deyil",
}
EPISODE_EXAMPLE: JsonDict = {
    "id": 12,
    "programme": "veten-uzaqda-deyil",
    "season": 1,
    "number": 3,
    "title": "Berlin",
    "description": "Azerbaijanis in Berlin",
    "duration_ms": 3150000,
    "air_date": "2026-11-29",
    "image": "https://diaspor.example/files/art/41.jpg",
    "availability": {
        "on_demand": True,
        "reason": None,
        "available_from": "2026-11-29T16:00:00Z",
        "available_until": None,
    },
    "links": EPISODE_LINKS,
}


class ProgrammeCard(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PROGRAMME_EXAMPLE]})

    slug: str
    title: str = Field(description="in the language asked for, else Azerbaijani")
    description: str | None
    titles: Texts = Field(description="every language there is: az, en, ru")
    descriptions: Texts
    categories: list[str]
    presenters: list[str]
    artwork: str | None = Field(description="URL of the programme's picture")
    episodes: int = Field(description="how many episodes it has in the catalogue")
    episodes_on_demand: int = Field(description="how many of them can be watched now")
    links: ProgrammeLinks


class EpisodeSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [EPISODE_EXAMPLE]})

    id: int
    programme: str = Field(description="the programme's slug")
    season: int | None
    number: int | None
    title: str = Field(description="in the language asked for, else Azerbaijani")
    description: str | None
    duration_ms: int | None
    air_date: date | None = Field(description="first broadcast, in the channel's zone")
    image: str | None = Field(description="URL of a still (the media's artwork or poster frame)")
    availability: AvailabilityOut
    links: EpisodeSummaryLinks


class SeasonOut(BaseModel):
    season: int | None = Field(description="null: episodes not in a season")
    episodes: list[EpisodeSummary]


class ProgrammeDetail(ProgrammeCard):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {**PROGRAMME_EXAMPLE, "seasons": [{"season": 1, "episodes": [EPISODE_EXAMPLE]}]}
            ]
        }
    )

    seasons: list[SeasonOut]


class EpisodePage(Paged[EpisodeSummary]):
    pass


class ProgrammePage(Paged[ProgrammeCard]):
    pass


class AiredOut(BaseModel):
    channel: str
    started_at: datetime


class NextAiringOut(BaseModel):
    channel: str
    start: datetime
    end: datetime


class SubtitleTrackOut(BaseModel):
    lang: str
    name: str = Field(description="the language's name in itself")
    url: str = Field(description="the HLS WebVTT playlist (also listed in the master)")
    vtt: str | None = Field(description="the whole WebVTT file, for players that want one")


class EpisodeDetailOut(EpisodeSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **EPISODE_EXAMPLE,
                    "titles": {"az": "Berlin icması", "en": "Berlin"},
                    "descriptions": {"en": "Azerbaijanis in Berlin"},
                    "programme_title": "Homeland Is Not Far",
                    "aired": [{"channel": "diaspor-tv", "started_at": "2026-11-29T16:00:00Z"}],
                    "next_airings": [],
                    "hls": "https://diaspor.example/files/hls/assets/41/k3J9x/master.m3u8",
                    "audio": "https://diaspor.example/files/hls/assets/41/k3J9x/audio/index.m3u8",
                    "audio_file": "https://diaspor.example/files/hls/assets/41/k3J9x/audio.m4a",
                    "subtitles": [
                        {
                            "lang": "az",
                            "name": "Azərbaycanca",
                            "url": "https://diaspor.example/files/hls/assets/41/k3J9x/subs/az/index.m3u8",
                            "vtt": "https://diaspor.example/files/hls/assets/41/k3J9x/subs/az.vtt",
                        }
                    ],
                    "poster": "https://diaspor.example/files/hls/assets/41/k3J9x/poster.jpg",
                    "thumbnails": "https://diaspor.example/files/hls/assets/41/k3J9x/thumbnails.vtt",
                    "links": {
                        **EPISODE_LINKS,
                        "master": "https://diaspor.example/files/hls/assets/41/k3J9x/master.m3u8",
                        "audio_file": "https://diaspor.example/files/hls/assets/41/k3J9x/audio.m4a",
                        "poster": "https://diaspor.example/files/hls/assets/41/k3J9x/poster.jpg",
                        "subtitles": {
                            "az": "https://diaspor.example/files/hls/assets/41/k3J9x/subs/az.vtt"
                        },
                    },
                }
            ]
        }
    )

    titles: Texts
    descriptions: Texts
    programme_title: str
    aired: list[AiredOut] = Field(description="past airings, from the as-run log, latest first")
    next_airings: list[NextAiringOut] = Field(description="from the guide, the next 14 days")
    hls: str | None = Field(
        description="master playlist URL, when on demand (it stops working once it is not)"
    )
    audio: str | None = Field(description="the audio-only HLS playlist URL")
    audio_file: str | None = Field(
        description="the sound in one M4A (AAC) file: podcast apps, downloads to listen offline"
    )
    subtitles: list[SubtitleTrackOut]
    poster: str | None
    thumbnails: str | None = Field(description="WebVTT of thumbnail sprite regions")
    links: EpisodeLinks  # the summary's, and what to play
