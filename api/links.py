"""Where a client goes next from a resource: absolute URLs, made here once for every route
(the station's public base, `DIASPOR_PUBLIC_URL`, else its own address)."""

from __future__ import annotations

from urllib.parse import quote

from pydantic import BaseModel, Field


class ChannelLinks(BaseModel):
    self: str = Field(description="this channel (getChannel)")
    now_playing: str = Field(description="what is on air (JSON)")
    now_playing_events: str = Field(description="what is on air, as Server-Sent Events")
    schedule: str = Field(description="the guide (JSON; add ?tz= for a listener's zone)")
    calendar: str = Field(description="the guide as iCalendar")
    logo: str | None = Field(description="the channel's logo, if it has one")
    player: str = Field(description="the web player")
    embed: str = Field(description="the player partner sites embed (an iframe; docs/embed.md)")


class ProgrammeLinks(BaseModel):
    self: str = Field(description="this programme (getProgramme)")
    page: str = Field(description="its public web page")
    episodes: str = Field(description="its episodes, a page at a time")
    podcast: str = Field(description="its podcast feed (RSS)")
    calendar: str = Field(description="when it airs, as iCalendar")


class EpisodeSummaryLinks(BaseModel):
    self: str = Field(description="this episode (getEpisode: with what to play)")
    share: str = Field(description="its public web page, to share (with a preview card)")
    programme: str = Field(description="its programme (getProgramme)")


class EpisodeLinks(EpisodeSummaryLinks):
    master: str | None = Field(description="the HLS master playlist, while on demand")
    audio_file: str | None = Field(description="the sound in one M4A file, while on demand")
    poster: str | None = Field(description="a still, while on demand")
    subtitles: dict[str, str] = Field(
        description="each language's WebVTT file, while on demand (also in `subtitles`)"
    )


def channel_links(base: str, slug: str, kind: str, logo: str | None) -> ChannelLinks:
    one = f"{base}/api/v1/channels/{quote(slug)}"
    return ChannelLinks(
        self=one,
        now_playing=f"{one}/now-playing",
        now_playing_events=f"{one}/now-playing/events",
        schedule=f"{one}/schedule",
        calendar=f"{one}/schedule.ics",
        logo=logo,
        player=f"{base}/",
        embed=f"{base}/embed/{kind}/{quote(slug)}",
    )


def programme_links(base: str, slug: str) -> ProgrammeLinks:
    one = f"{base}/api/v1/programmes/{quote(slug)}"
    return ProgrammeLinks(
        self=one,
        page=f"{base}/programmes/{quote(slug)}",
        episodes=f"{one}/episodes",
        podcast=f"{one}/podcast.xml",
        calendar=f"{one}/schedule.ics",
    )


def episode_links(base: str, episode_id: int, programme: str) -> EpisodeSummaryLinks:
    return EpisodeSummaryLinks(
        self=f"{base}/api/v1/episodes/{episode_id}",
        share=f"{base}/episodes/{episode_id}",
        programme=f"{base}/api/v1/programmes/{quote(programme)}",
    )
