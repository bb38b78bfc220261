"""Guides for other software: XMLTV for every channel and an M3U list for IPTV players."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import partial
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request, Response

from api.auth import ServicesDep
from api.lang import LangDep
from api.names import Names
from api.rendered import Made, rendered
from api.routes.channels import channel_info
from api.services import Services
from schedules.epg import m3u, xmltv

router = APIRouter(tags=["guide"])


@router.get(
    "/epg.xml",
    response_class=Response,
    responses={200: {"content": {"application/xml": {"schema": {"type": "string"}}}}},
    summary="XMLTV guide of every channel, from today for `days` days",
)
async def get_xmltv_guide(
    request: Request, svc: ServicesDep, days: Annotated[int, Query(ge=1, le=14)] = 2
) -> Response:
    make = partial(epg_of, svc, days)
    return await rendered(request, (days,), make, "application/xml; charset=utf-8")


def epg_of(svc: Services, days: int) -> Made:
    """Every channel's guide from today (in its zone) for `days` days, as XMLTV; it holds
    until the first channel's day ends."""
    now = svc.clock.now()
    channels = []
    today: list[datetime] = []
    art = Names(svc, "az")
    for ch in svc.schedules.find("channel"):
        tz = ZoneInfo(ch.data["timezone"])
        start = datetime.combine(now.astimezone(tz).date(), time(0), tz)
        today.append(start)
        guide = svc.schedules.guide(ch.data["slug"], start, start + timedelta(days=days))
        channels.append(channel_info(svc, ch, tuple(guide)))
    artwork = {
        b.artwork_media_id: url
        for info in channels
        for b in info.guide
        if b.artwork_media_id is not None and (url := art.artwork(b.artwork_media_id))
    }
    body = xmltv(channels, generator="Diaspor", artwork_url=artwork)
    return Made(body, (max(today), min(today) + timedelta(days=1)) if today else None)


@router.get(
    "/channels.m3u",
    response_class=Response,
    responses={200: {"content": {"audio/x-mpegurl": {"schema": {"type": "string"}}}}},
    summary="M3U channel list for IPTV players (with tvg-id matching /epg.xml)",
)
def get_m3u_playlist(svc: ServicesDep, lang: LangDep) -> Response:
    channels = [channel_info(svc, ch) for ch in svc.schedules.find("channel")]
    body = m3u(channels, epg_url=f"{svc.settings.base_url}/epg.xml", lang=lang)
    return Response(body, media_type="audio/x-mpegurl; charset=utf-8")
