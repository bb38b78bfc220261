"""Public: the channels, their streams and their schedule (JSON and iCalendar)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date as Date
from datetime import datetime, time, timedelta
from functools import partial
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response

from api.auth import ServicesDep
from api.lang import LangDep
from api.links import channel_links
from api.names import Names
from api.paging import Pages, paged
from api.problems import Problem, problems
from api.relays import RelaysDep, RelaysWanted
from api.rendered import Made, rendered
from api.schedule_schemas import (
    ChannelOut,
    ChannelPage,
    GuideBlockOut,
    GuideItemOut,
    RelayOut,
    ScheduleOut,
    StreamOut,
)
from api.services import Services
from api.zones import ZoneDep
from playout.radio_channel import mounts_of
from playout.relays import RelayStreams, relay_streams
from schedules.epg import ChannelInfo, Stream, ical
from schedules.guide import GuideBlock, pick
from schedules.service import Record

router = APIRouter()
MAX_RANGE = timedelta(days=14)


def streams_of(svc: Services, ch: Record) -> list[Stream]:
    """The channel's streams: those its playout serves now, then those its editors set."""
    listed = [*svc.on_air.get(ch.data["slug"], []), *(ch.data.get("streams") or [])]
    return [Stream(s["url"], s["format"], s.get("bitrate")) for s in listed]


def channel_info(svc: Services, ch: Record, guide: tuple[GuideBlock, ...] = ()) -> ChannelInfo:
    d = ch.data
    return ChannelInfo(
        slug=d["slug"],
        kind=d["kind"],
        names=d["names"] or {},
        descriptions=d["descriptions"] or {},
        timezone=d["timezone"],
        logo_url=d.get("logo_url"),
        streams=tuple(streams_of(svc, ch)),
        guide=guide,
    )


def relays_of(svc: Services, info: ChannelInfo, wanted: RelaysWanted) -> list[RelayStreams]:
    """A radio channel's mounts on each regional relay, while its playout has them on air
    (the mounts are those playout serves: the API has its settings), nearest first."""
    if info.kind != "radio" or not svc.on_air.get(info.slug):
        return []
    s = svc.settings
    mounts = mounts_of(info.slug, s.radio_bitrate_kbps, s.radio_low_bitrate_kbps)
    return relay_streams(s.radio_relays, mounts, wanted.country, nearest_only=wanted.nearest_only)


def channel_out(
    info: ChannelInfo, lang: str, base: str, relays: Sequence[RelayStreams] = ()
) -> ChannelOut:
    return ChannelOut(
        links=channel_links(base, info.slug, info.kind, info.logo_url),
        slug=info.slug,
        kind=info.kind,
        name=pick(info.names, lang),
        description=pick(info.descriptions, lang),
        logo=info.logo_url,
        timezone=info.timezone,
        streams=[StreamOut(url=s.url, format=s.format, bitrate=s.bitrate) for s in info.streams],
        relays=[
            RelayOut(
                name=r.name,
                region=r.region,
                streams=[StreamOut.model_validate(s) for s in r.streams],
            )
            for r in relays
        ],
    )


def channel_answer(svc: Services, ch: Record, lang: str, wanted: RelaysWanted) -> ChannelOut:
    info = channel_info(svc, ch)
    return channel_out(info, lang, svc.settings.base_url, relays_of(svc, info, wanted))


@router.get(
    "/api/v1/channels",
    response_model=ChannelPage,
    summary="Every channel, with its streams",
    tags=["channels"],
)
def list_channels(
    svc: ServicesDep,
    lang: LangDep,
    relays: RelaysDep,
    response: Response,
    pages: Annotated[Pages, paged("channels", 100)],
) -> ChannelPage:
    page = pages.whole(svc.schedules.find("channel"), lambda c: (c.id,))
    response.headers["Content-Language"] = lang
    return pages.answer(ChannelPage, page, lambda c: channel_answer(svc, c, lang, relays))


@router.get(
    "/api/v1/channels/{slug}",
    response_model=ChannelOut,
    tags=["channels"],
    summary="One channel",
    responses=problems(404),
)
def get_channel(
    slug: str, svc: ServicesDep, lang: LangDep, relays: RelaysDep, response: Response
) -> ChannelOut:
    response.headers["Content-Language"] = lang
    return channel_answer(svc, svc.schedules.channel(slug), lang, relays)


FURTHEST = timedelta(days=3653)


def window(
    now: datetime,
    tz: ZoneInfo,
    day: Date | None,
    start: datetime | None,
    end: datetime | None,
    default_days: int,
) -> tuple[datetime, datetime]:
    """A day in the channel's zone, or from/to (a time without offset is in the channel's zone)."""
    if start is not None or end is not None:
        if start is None or end is None:
            raise Problem(422, "Invalid request", "give both from and to", "invalid-request")
        start = start if start.tzinfo else start.replace(tzinfo=tz)
        end = end if end.tzinfo else end.replace(tzinfo=tz)
    else:
        if day is None:
            day = now.astimezone(tz).date()
        start = datetime.combine(day, time(0), tz)
        end = datetime.combine(day + timedelta(days=default_days), time(0), tz)
    if end <= start:
        raise Problem(422, "Invalid request", "to must be after from", "invalid-request")
    if end - start > MAX_RANGE:
        raise Problem(422, "Invalid request", "ask for at most 14 days at once", "invalid-request")
    if not now - FURTHEST <= start <= now + FURTHEST:
        # The schedule is resolved from its rules: a day centuries away would be computed
        # from every occurrence in between. Ten years either side is any listener's need.
        raise Problem(
            422, "Invalid request", "ask for a time within ten years of today", "out-of-range"
        )
    return start, end


def shift(block: GuideBlockOut, tz: ZoneInfo) -> GuideBlockOut:
    """The block with its times (and its items') given in `tz`: the same instants."""
    items = [
        i.model_copy(update={"start": i.start.astimezone(tz), "end": i.end.astimezone(tz)})
        for i in block.items or ()
    ]
    return block.model_copy(
        update={
            "start": block.start.astimezone(tz),
            "end": block.end.astimezone(tz),
            "items": items if block.items is not None else None,
        }
    )


def block_out(names: Names, b: GuideBlock, lang: str, items: bool) -> GuideBlockOut:
    artwork = names.artwork(b.artwork_media_id)
    return GuideBlockOut(
        start=b.start,
        end=b.end,
        kind=b.kind,
        title=pick(b.titles, lang),
        subtitle=pick(b.subtitles, lang) or None if b.subtitles else None,
        description=pick(b.descriptions, lang) or None if b.descriptions else None,
        categories=list(b.categories),
        programme=b.programme_slug,
        season=b.season,
        episode=b.episode,
        artwork=artwork,
        items=[
            GuideItemOut(
                start=i.start,
                end=i.end,
                kind=i.kind,
                title=names.title(i.media_id, i.title),
                artist=i.artist,
                media_id=i.media_id,
            )
            for i in b.items
        ]
        if items
        else None,
    )


def schedule_day(
    svc: Services,
    slug: str,
    lang: str,
    shown: ZoneInfo | None,
    day: Date | None,
    start: datetime | None,
    end: datetime | None,
    items: bool,
) -> Made:
    """The guide over a day (today when none is asked: it holds until the day ends) or
    from/to, as the JSON body the route sends, its times in the zone `shown` (else the
    channel's)."""
    own = ZoneInfo(svc.schedules.channel(slug).data["timezone"])
    tz = shown or own
    lo, hi = window(svc.clock.now(), tz, day, start, end, 1)
    names = Names(svc, lang)
    blocks = [block_out(names, b, lang, items) for b in svc.schedules.guide(slug, lo, hi)]
    body = ScheduleOut(
        channel=slug,
        timezone=own.key,
        tz=shown.key if shown else None,
        lang=lang,
        start=lo,
        end=hi,
        blocks=[shift(b, shown) for b in blocks] if shown else blocks,
    )
    today = day is None and start is None and end is None
    return Made(body.model_dump_json().encode(), (lo, hi) if today else None)


@router.get(
    "/api/v1/channels/{slug}/schedule",
    tags=["guide"],
    response_model=ScheduleOut,
    summary="The channel's schedule: a day (default today), or from/to",
    responses=problems(404),
)
async def get_channel_schedule(
    slug: str,
    request: Request,
    svc: ServicesDep,
    lang: LangDep,
    tz: ZoneDep,
    date: Annotated[
        Date | None, Query(description="a day in the zone of `tz` (else the channel's)")
    ] = None,
    start: Annotated[
        datetime | None,
        Query(alias="from", description="with `to`: a time; without offset, in `tz`'s zone"),
    ] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    items: Annotated[bool, Query(description="include each item (track) of each block")] = False,
) -> Response:
    return await rendered(
        request,
        (slug, date, start, end, lang, items, tz),
        partial(schedule_day, svc, slug, lang, tz, date, start, end, items),
        "application/json",
        {"Content-Language": lang},
    )


ICS = {200: {"content": {"text/calendar": {"schema": {"type": "string"}}}}, **problems(404)}
CALENDAR = "text/calendar; charset=utf-8"


def channel_calendar(
    svc: Services, slug: str, lang: str, shown: ZoneInfo | None, days: int
) -> Made:
    """The channel's next `days` days from today as iCalendar (it holds until today ends);
    with `shown`, today is that zone's and the times are given in it."""
    ch = svc.schedules.channel(slug)
    tz = shown or ZoneInfo(ch.data["timezone"])
    lo, hi = window(svc.clock.now(), tz, None, None, None, days)
    blocks = [b for b in svc.schedules.guide(slug, lo, hi) if b.kind != "filler"]
    name = pick(ch.data["names"] or {}, lang) or slug
    body = ical(name, slug, blocks, lang=lang, tz=shown)
    return Made(body, (lo, lo + timedelta(days=1)))


@router.get(
    "/api/v1/channels/{slug}/schedule.ics",
    tags=["guide"],
    response_class=Response,
    responses=ICS,
    summary="The channel's schedule as iCalendar",
)
async def get_channel_calendar(
    slug: str,
    request: Request,
    svc: ServicesDep,
    lang: LangDep,
    tz: ZoneDep,
    days: Annotated[int, Query(ge=1, le=14)] = 7,
) -> Response:
    make = partial(channel_calendar, svc, slug, lang, tz, days)
    return await rendered(request, (slug, lang, days, tz), make, CALENDAR)


def programme_calendar(
    svc: Services, slug: str, lang: str, shown: ZoneInfo | None, days: int
) -> Made:
    """When the programme airs over the next `days` days, on any channel, as iCalendar; it
    holds until the first channel's day ends. With `shown`, days and times are that zone's."""
    prog = svc.schedules.programme_by_slug(slug)
    now = svc.clock.now()
    blocks: list[GuideBlock] = []
    today: list[datetime] = []
    for ch in svc.schedules.find("channel"):
        tz = shown or ZoneInfo(ch.data["timezone"])
        lo, hi = window(now, tz, None, None, None, days)
        today.append(lo)
        guide = svc.schedules.guide(ch.data["slug"], lo, hi)
        blocks += [b for b in guide if b.programme_id == prog.id]
    name = pick(prog.data["titles"] or {}, lang)
    during = (max(today), min(today) + timedelta(days=1)) if today else None
    return Made(ical(name, slug, blocks, lang=lang, tz=shown), during)


@router.get(
    "/api/v1/programmes/{slug}/schedule.ics",
    tags=["guide"],
    response_class=Response,
    responses=ICS,
    summary="When a programme airs, on any channel, as iCalendar",
)
async def get_programme_calendar(
    slug: str,
    request: Request,
    svc: ServicesDep,
    lang: LangDep,
    tz: ZoneDep,
    days: Annotated[int, Query(ge=1, le=14)] = 14,
) -> Response:
    make = partial(programme_calendar, svc, slug, lang, tz, days)
    return await rendered(request, (slug, lang, days, tz), make, CALENDAR)
