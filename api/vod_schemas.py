"""HTTP bodies of the on-demand catalogue (public): programmes, seasons, episodes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

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


class ProgrammeCard(BaseModel):
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
